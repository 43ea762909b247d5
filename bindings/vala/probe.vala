/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Connects to a vhost-user back-end as a front-end (Vhost.UserMaster, from Vala) and prints what it offers. */

/* The names of the transport feature bits that are set. */
static string feature_names (uint64 features)
{
  var names = new StringBuilder ();
  var klass = (EnumClass) typeof (Vhost.VirtioFeature).class_ref ();

  for (int bit = 0; bit < 64; bit++)
    {
      unowned EnumValue? value = klass.get_value (bit);

      if ((features & ((uint64) 1 << bit)) != 0 && value != null)
        names.append_printf (" %s", value.value_nick);
    }
  return names.str;
}

int main (string[] args)
{
  if (args.length != 2)
    {
      printerr ("Usage: %s SOCKET\n", args[0]);
      return 2;
    }

  var master = new Vhost.UserMaster (args[1]);
  try
    {
      master.connect ();
      /* The query_* forms return the value and throw. */
      uint64 features = master.query_features ();
      master.set_owner ();
      print ("features 0x%016" + uint64.FORMAT_MODIFIER + "x%s\n", features, feature_names (features));
      if ((features & ((uint64) 1 << Vhost.VirtioFeature.PROTOCOL_FEATURES)) == 0)
        {
          printerr ("probe: the back-end has no protocol features\n");
          return 1;
        }
      uint64 offered = master.query_protocol_features ();
      master.set_protocol_features (offered & (Vhost.UserProtocolFeatures.MQ | Vhost.UserProtocolFeatures.CONFIG));
      uint64 queues = (offered & Vhost.UserProtocolFeatures.MQ) != 0 ? master.query_queue_num () : 1;
      print ("queues %" + uint64.FORMAT + "\n", queues);
      if ((offered & Vhost.UserProtocolFeatures.CONFIG) != 0)
        {
          /* virtio-blk: the capacity, in 512-byte sectors, is the first field. */
          unowned uint8[] config = master.get_config (0, 8, 0).get_data ();
          uint64 capacity = 0;

          for (int i = 7; i >= 0; i--)
            capacity = (capacity << 8) | config[i];
          print ("capacity %" + uint64.FORMAT + " sectors\n", capacity);
        }

      /* A driver made from its properties has its guest memory; addresses and
       * bytes come back as values. */
      var driver = (Vhost.Driver) Object.new (typeof (Vhost.Driver), "backend", master, "memory-size", (uint64) 1 << 20);
      uint64 addr = driver.alloc_address (64);
      driver.write_data (addr, "vhost".data);
      uint8[] bytes = driver.read_data (addr, 5);
      string back = ((string) bytes).substring (0, bytes.length);
      if (back != "vhost")
        {
          printerr ("probe: the driver's memory gave back \"%s\"\n", back);
          return 1;
        }
      print ("driver memory: %s at 0x%" + uint64.FORMAT_MODIFIER + "x\n", back, addr);
      master.close ();
    }
  catch (Error e)
    {
      printerr ("probe: %s\n", e.message);
      return 1;
    }
  return 0;
}
