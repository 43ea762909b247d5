/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one table of vhost-user requests: every column the front-end, the back-end and the channel ask. */
#pragma once

/*
 * One row per request, as the vhost-user specification defines it. Each consumer
 * expands the list with its own R() macro: protocol/vhost-user-protocol.c builds
 * the VhostUserRequestInfo table from it (everything but the handler), the
 * back-end engine (core/vhost-user-dev.c) its dispatch table, and the front-end
 * (vhost-user-master.c) the dispatch table of back-end requests. So adding a
 * request is one row here and one handler on the side that receives it.
 *
 * The columns:
 *  1. the request code, VHOST_USER_<code> (front-end) or VHOST_USER_BACKEND_<code>;
 *  2. handler: the name of the receiving side's function; `device` for requests
 *     whose meaning belongs to the device (the back-end hands them to it);
 *  3. payload: VHOST_USER_PAYLOAD_<x>;
 *  4. fds: VHOST_USER_FDS_<x>, how many fds come with it;
 *  5. reply: VHOST_USER_REPLY_<x>, when a reply comes back;
 *  6. reply payload and 7. reply fds, of a full reply;
 *  8. the protocol feature (VHOST_USER_PROTOCOL_F_<x>) that turns an IF_FEATURE
 *     reply on;
 *  9. the protocol feature the request needs (NONE: none);
 * 10. queues: STOP when the back-end must quiesce its queues around it (it
 *     changes memory, features, the log or a vring), KEEP otherwise;
 * 11. failure: how the receiver answers a request it could not carry out:
 *     CLOSE ends the connection (unless the sender asked for a REPLY_ACK status,
 *     which then says 1), EMPTY replies with an empty payload (GET_CONFIG),
 *     STATUS replies with a non-zero u64 status (for an ACK_ONLY request, when
 *     the sender asked for one) and the connection goes on.
 *
 * Postcopy migration bends two rows: once the back-end listens, it answers
 * SET_MEM_TABLE and ADD_MEM_REG with the table (or region) as it mapped it, and
 * the front-end acknowledges with the same request carrying a u64 0, which the
 * payload validation accepts (an empty table, a region message of 8 bytes).
 */

/* clang-format off */
#define VHOST_USER_FRONTEND_REQUESTS(R) \
  R (GET_FEATURES,          get_features,          NONE,         NONE,        ALWAYS,     U64,          NONE,         NONE,      NONE,                 KEEP, CLOSE)  \
  R (SET_FEATURES,          set_features,          U64,          NONE,        ACK_ONLY,   NONE,         NONE,         NONE,      NONE,                 STOP, CLOSE)  \
  R (SET_OWNER,             set_owner,             NONE,         NONE,        ACK_ONLY,   NONE,         NONE,         NONE,      NONE,                 KEEP, CLOSE)  \
  R (RESET_OWNER,           reset_owner,           NONE,         NONE,        ACK_ONLY,   NONE,         NONE,         NONE,      NONE,                 STOP, CLOSE)  \
  R (SET_MEM_TABLE,         set_mem_table,         MEMORY,       REGIONS,     ACK_ONLY,   NONE,         NONE,         NONE,      NONE,                 STOP, CLOSE)  \
  R (SET_LOG_BASE,          set_log_base,          LOG,          AT_MOST_ONE, IF_FEATURE, U64,          NONE,         LOG_SHMFD, LOG_SHMFD,            STOP, CLOSE)  \
  R (SET_LOG_FD,            set_log_fd,            NONE,         ONE,         ACK_ONLY,   NONE,         NONE,         NONE,      NONE,                 STOP, CLOSE)  \
  R (SET_VRING_NUM,         set_vring_num,         STATE,        NONE,        ACK_ONLY,   NONE,         NONE,         NONE,      NONE,                 STOP, CLOSE)  \
  R (SET_VRING_ADDR,        set_vring_addr,        ADDR,         NONE,        ACK_ONLY,   NONE,         NONE,         NONE,      NONE,                 STOP, CLOSE)  \
  R (SET_VRING_BASE,        set_vring_base,        STATE,        NONE,        ACK_ONLY,   NONE,         NONE,         NONE,      NONE,                 STOP, CLOSE)  \
  R (GET_VRING_BASE,        get_vring_base,        STATE,        NONE,        ALWAYS,     STATE,        NONE,         NONE,      NONE,                 STOP, CLOSE)  \
  R (SET_VRING_KICK,        set_vring_fd,          U64,          VRING,       ACK_ONLY,   NONE,         NONE,         NONE,      NONE,                 STOP, CLOSE)  \
  R (SET_VRING_CALL,        set_vring_fd,          U64,          VRING,       ACK_ONLY,   NONE,         NONE,         NONE,      NONE,                 STOP, CLOSE)  \
  R (SET_VRING_ERR,         set_vring_fd,          U64,          VRING,       ACK_ONLY,   NONE,         NONE,         NONE,      NONE,                 STOP, CLOSE)  \
  R (GET_PROTOCOL_FEATURES, get_protocol_features, NONE,         NONE,        ALWAYS,     U64,          NONE,         NONE,      NONE,                 KEEP, CLOSE)  \
  R (SET_PROTOCOL_FEATURES, set_protocol_features, U64,          NONE,        ACK_ONLY,   NONE,         NONE,         NONE,      NONE,                 KEEP, CLOSE)  \
  R (GET_QUEUE_NUM,         get_queue_num,         NONE,         NONE,        ALWAYS,     U64,          NONE,         NONE,      MQ,                   KEEP, CLOSE)  \
  R (SET_VRING_ENABLE,      set_vring_enable,      STATE,        NONE,        ACK_ONLY,   NONE,         NONE,         NONE,      NONE,                 STOP, CLOSE)  \
  R (SEND_RARP,             device,                U64,          NONE,        ACK_ONLY,   NONE,         NONE,         NONE,      RARP,                 KEEP, CLOSE)  \
  R (NET_SET_MTU,           device,                U64,          NONE,        ACK_ONLY,   NONE,         NONE,         NONE,      NET_MTU,              KEEP, CLOSE)  \
  R (SET_BACKEND_REQ_FD,    set_backend_req_fd,    NONE,         ONE,         ACK_ONLY,   NONE,         NONE,         NONE,      BACKEND_REQ,          KEEP, CLOSE)  \
  R (IOTLB_MSG,             iotlb_msg,             IOTLB,        NONE,        ALWAYS,     U64,          NONE,         NONE,      NONE,                 KEEP, STATUS) \
  R (SET_VRING_ENDIAN,      device,                STATE,        NONE,        ACK_ONLY,   NONE,         NONE,         NONE,      CROSS_ENDIAN,         KEEP, CLOSE)  \
  R (GET_CONFIG,            get_config,            CONFIG,       NONE,        ALWAYS,     CONFIG,       NONE,         NONE,      CONFIG,               KEEP, EMPTY)  \
  R (SET_CONFIG,            set_config,            CONFIG,       NONE,        ACK_ONLY,   NONE,         NONE,         NONE,      CONFIG,               KEEP, CLOSE)  \
  R (CREATE_CRYPTO_SESSION, device,                OPAQUE,       NONE,        ALWAYS,     OPAQUE,       NONE,         NONE,      CRYPTO_SESSION,       KEEP, CLOSE)  \
  R (CLOSE_CRYPTO_SESSION,  device,                U64,          NONE,        ACK_ONLY,   NONE,         NONE,         NONE,      CRYPTO_SESSION,       KEEP, CLOSE)  \
  R (POSTCOPY_ADVISE,       postcopy_advise,       NONE,         NONE,        ALWAYS,     NONE,         ONE,          NONE,      PAGEFAULT,            KEEP, CLOSE)  \
  R (POSTCOPY_LISTEN,       postcopy_listen,       NONE,         NONE,        ACK_ONLY,   NONE,         NONE,         NONE,      PAGEFAULT,            KEEP, CLOSE)  \
  R (POSTCOPY_END,          postcopy_end,          NONE,         NONE,        ALWAYS,     U64,          NONE,         NONE,      PAGEFAULT,            KEEP, STATUS) \
  R (GET_INFLIGHT_FD,       get_inflight_fd,       INFLIGHT,     NONE,        ALWAYS,     INFLIGHT,     ONE,          NONE,      INFLIGHT_SHMFD,       KEEP, CLOSE)  \
  R (SET_INFLIGHT_FD,       set_inflight_fd,       INFLIGHT,     ONE,         ACK_ONLY,   NONE,         NONE,         NONE,      INFLIGHT_SHMFD,       STOP, CLOSE)  \
  R (GPU_SET_SOCKET,        device,                NONE,         ONE,         ACK_ONLY,   NONE,         NONE,         NONE,      NONE,                 KEEP, CLOSE)  \
  R (RESET_DEVICE,          reset_device,          NONE,         NONE,        ACK_ONLY,   NONE,         NONE,         NONE,      RESET_DEVICE,         STOP, CLOSE)  \
  R (VRING_KICK,            vring_kick,            STATE,        NONE,        ACK_ONLY,   NONE,         NONE,         NONE,      INBAND_NOTIFICATIONS, KEEP, CLOSE)  \
  R (GET_MAX_MEM_SLOTS,     get_max_mem_slots,     NONE,         NONE,        ALWAYS,     U64,          NONE,         NONE,      CONFIGURE_MEM_SLOTS,  KEEP, CLOSE)  \
  R (ADD_MEM_REG,           add_mem_reg,           MEM_REG,      ONE,         ACK_ONLY,   NONE,         NONE,         NONE,      CONFIGURE_MEM_SLOTS,  STOP, CLOSE)  \
  R (REM_MEM_REG,           rem_mem_reg,           MEM_REG,      AT_MOST_ONE, ACK_ONLY,   NONE,         NONE,         NONE,      CONFIGURE_MEM_SLOTS,  STOP, CLOSE)  \
  R (SET_STATUS,            set_status,            U64,          NONE,        ACK_ONLY,   NONE,         NONE,         NONE,      STATUS,               STOP, CLOSE)  \
  R (GET_STATUS,            get_status,            NONE,         NONE,        ALWAYS,     U64,          NONE,         NONE,      STATUS,               KEEP, CLOSE)  \
  R (GET_SHARED_OBJECT,     device,                SHARED,       NONE,        ALWAYS,     U64,          AT_MOST_ONE,  NONE,      SHARED_OBJECT,        KEEP, STATUS) \
  R (SET_DEVICE_STATE_FD,   set_device_state_fd,   DEVICE_STATE, ONE,         ALWAYS,     U64,          DEVICE_STATE, NONE,      DEVICE_STATE,         STOP, STATUS) \
  R (CHECK_DEVICE_STATE,    check_device_state,    NONE,         NONE,        ALWAYS,     U64,          NONE,         NONE,      DEVICE_STATE,         STOP, STATUS) \
  R (GET_SHMEM_CONFIG,      get_shmem_config,      NONE,         NONE,        ALWAYS,     SHMEM_CONFIG, NONE,         NONE,      SHMEM,                KEEP, CLOSE)

#define VHOST_USER_BACKEND_REQUESTS(R) \
  R (IOTLB_MSG,               iotlb_msg,               IOTLB,  NONE, ACK_ONLY, NONE, NONE,        NONE, NONE,                 KEEP, CLOSE)  \
  R (CONFIG_CHANGE_MSG,       config_change_msg,       NONE,   NONE, ACK_ONLY, NONE, NONE,        NONE, CONFIG,               KEEP, CLOSE)  \
  R (VRING_HOST_NOTIFIER_MSG, vring_host_notifier_msg, AREA,   AREA, ACK_ONLY, NONE, NONE,        NONE, HOST_NOTIFIER,        KEEP, CLOSE)  \
  R (VRING_CALL,              vring_call,              STATE,  NONE, ACK_ONLY, NONE, NONE,        NONE, INBAND_NOTIFICATIONS, KEEP, CLOSE)  \
  R (VRING_ERR,               vring_err,               STATE,  NONE, ACK_ONLY, NONE, NONE,        NONE, INBAND_NOTIFICATIONS, KEEP, CLOSE)  \
  R (SHARED_OBJECT_ADD,       shared_object_add,       SHARED, NONE, ACK_ONLY, NONE, NONE,        NONE, SHARED_OBJECT,        KEEP, CLOSE)  \
  R (SHARED_OBJECT_REMOVE,    shared_object_remove,    SHARED, NONE, ACK_ONLY, NONE, NONE,        NONE, SHARED_OBJECT,        KEEP, CLOSE)  \
  R (SHARED_OBJECT_LOOKUP,    shared_object_lookup,    SHARED, NONE, ALWAYS,   U64,  AT_MOST_ONE, NONE, SHARED_OBJECT,        KEEP, STATUS) \
  R (SHMEM_MAP,               shmem_map,               MMAP,   ONE,  ACK_ONLY, NONE, NONE,        NONE, SHMEM,                KEEP, STATUS) \
  R (SHMEM_UNMAP,             shmem_unmap,             MMAP,   NONE, ACK_ONLY, NONE, NONE,        NONE, SHMEM,                KEEP, STATUS)
/* clang-format on */
