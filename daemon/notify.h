/*
 * notify.h - readiness for a service manager: the sd_notify protocol
 * (a datagram of "KEY=VALUE" lines to the UNIX socket $NOTIFY_SOCKET),
 * spoken directly, so that shmdbd needs no libsystemd. Without the
 * variable nothing is sent.
 */
#ifndef SHMDBD_NOTIFY_H
#define SHMDBD_NOTIFY_H

/* Send `state` ("READY=1", "STOPPING=1", "STATUS=...") to the service
 * manager, if one asked. Returns 0 (also when none asked), or -errno. */
int notify_manager(const char *state);

#endif /* SHMDBD_NOTIFY_H */
