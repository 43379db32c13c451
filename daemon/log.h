/*
 * log.h - shmdbd's log: one line per event on stderr, prefixed "shmdbd: ".
 */
#ifndef SHMDBD_LOG_H
#define SHMDBD_LOG_H

__attribute__((format(printf, 1, 2))) void log_line(const char *fmt, ...);

#endif /* SHMDBD_LOG_H */
