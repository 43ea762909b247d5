#!/usr/bin/gjs
// SPDX-License-Identifier: GPL-2.0-or-later
// Connects to a vhost-user back-end as a front-end (Vhost.UserMaster, from GJS) and prints what it offers.
imports.gi.versions.Vhost = '1.0';
const {Vhost} = imports.gi;
const System = imports.system;

// The names of the transport feature bits that are set: Vhost.VirtioFeature maps names to bit numbers.
function featureNames(features) {
    return Object.entries(Vhost.VirtioFeature)
        .filter(([, bit]) => typeof bit === 'number' && (BigInt(features) >> BigInt(bit)) & 1n)
        .map(([name]) => name.toLowerCase().replace(/_/g, '-'));
}

function main(argv) {
    if (argv.length !== 1) {
        printerr('Usage: probe.js SOCKET');
        return 2;
    }
    const master = Vhost.UserMaster.new(argv[0]);
    try {
        // The vhost-user connect: GObject's signal connect is GObject.Object.prototype.connect.
        master.connect(null);
        // The query_* forms return the value and throw: no [ok, value] pair.
        const features = master.query_features();
        master.set_owner();
        print(`features 0x${features.toString(16).padStart(16, '0')} ${featureNames(features).join(' ')}`);
        const offered = master.query_protocol_features();
        const {MQ, CONFIG} = Vhost.UserProtocolFeatures;
        master.set_protocol_features(offered & (MQ | CONFIG));
        const queues = offered & MQ ? master.query_queue_num() : 1;
        print(`queues ${queues}`);
        if (offered & CONFIG) {
            // virtio-blk: the capacity, in 512-byte sectors, is the first field.
            const config = master.get_config(0, 8, 0).toArray();
            const capacity = new DataView(config.buffer, config.byteOffset, 8).getBigUint64(0, true);
            print(`capacity ${capacity} sectors`);
        }
        // A driver made from its properties has its guest memory; addresses and
        // bytes come back as values.
        const driver = new Vhost.Driver({backend: master, memory_size: 1 << 20});
        const addr = driver.alloc_address(64);
        driver.write_data(addr, new TextEncoder().encode('vhost'));
        const back = new TextDecoder().decode(driver.read_data(addr, 5));
        if (back !== 'vhost')
            throw new Error(`the driver's memory gave back "${back}"`);
        print(`driver memory: ${back} at 0x${addr.toString(16)}`);
        master.close();
    } catch (e) {
        printerr(`probe: ${e.message}`);
        return 1;
    }
    return 0;
}

System.exit(main(ARGV));
