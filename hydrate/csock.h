/* csock.h: the sockets of libcurl's connections, and the program's dup2 onto one (csock.c). */
#ifndef SMH_CSOCK_H
#define SMH_CSOCK_H

#include <curl/curl.h>

/** In a fork child: no connection is the child's (sm_fd_atfork_child closes their sockets). */
void smh_csock_atfork_child(void);
/** A control slot for a new connection (its handle's guard), or -1 when none is free (its
 *  sockets then cannot be given up: a dup2 onto one answers EBUSY). */
int smh_csock_ctl_new(void);
/** The connection of ctl is gone (after its last smh_csock_leave). */
void smh_csock_ctl_free(int ctl);
/** The connection's owner is about to call libcurl with its handle: waits while a program
 *  thread takes one of its sockets. 1 when the handle was given up meanwhile (a socket of it went
 *  to the program): the owner must never call libcurl with that handle again and makes a new
 *  one; 0 otherwise. */
int smh_csock_enter(int ctl);
/** After smh_csock_enter answered 1: the numbers the handles given up may still use (at most
 *  max, into out): their count, or -1 when they are not all known (the handles must then be left
 *  as they are). Clears the list. */
int smh_csock_gone(int ctl, int *out, int max);
/** The owner is out of libcurl (every smh_csock_enter is followed by one). */
void smh_csock_leave(int ctl);

/** CURLOPT_OPENSOCKETFUNCTION, CURLOPT_CLOSESOCKETFUNCTION and CURLOPT_XFERINFOFUNCTION of a
 *  connection; their data is the connection's ctl, cast to a pointer. */
curl_socket_t smh_csock_open(void *ctl, curlsocktype purpose, struct curl_sockaddr *a);
int smh_csock_close(void *ctl, curl_socket_t fd);
int smh_csock_progress(void *ctl, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un);

/** A descriptor libcurl made by itself (a socket pair, a socket) in a library thread: it belongs
 *  to the handle whose owner is inside libcurl on this thread, if any. */
void smh_csock_note(int fd);
/** The library closes fd: 1 when it was one of the handles' (closed, or parked for the
 *  program's dup2), 0 when the caller closes it. */
int smh_csock_closing(int fd);

/** The program duplicates onto fd: if it is a socket of libcurl's, give it up (csock.c says
 *  how). 0: fd is not one; 1: the number may be replaced now (and is no longer the library's);
 *  -EAGAIN: libcurl is closing it this moment, look again; -EBUSY: not given up in time. */
int smh_csock_yield(int fd);

#endif
