/* store_pipe: the three-stage path of a large upload with a known size. The request thread
 * copies the body into a ring of aligned buffers, one thread hashes each full buffer, and
 * another writes it to the temp file with O_DIRECT when the file system allows it. Used by
 * store.c only. */
#ifndef STORE_PIPE_H
#define STORE_PIPE_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct store_pipe;

/** Starts the pipe on fd, which must be empty. The pipe owns md until store_pipe_finish or
 * store_pipe_free returns. Returns NULL when memory or threads are short; the caller then
 * hashes and writes on its own thread. */
struct store_pipe *store_pipe_start(int fd, EVP_MD_CTX *md,
                                    ssize_t (*write_fn)(int, const void *, size_t));

/** Copies len bytes into the ring. Returns 0, or an errno value (-1 for a digest failure) from
 * an earlier failed write or hash; after a failure only store_pipe_free remains. */
int store_pipe_write(struct store_pipe *p, const void *buf, size_t len);

/** Sends the last bytes through, waits until all are hashed and written, and stops the
 * threads. Returns 0 or an errno value as store_pipe_write does. The file is not fsynced. */
int store_pipe_finish(struct store_pipe *p);

/** Stops the threads if they still run, dropping what is not written, and frees the pipe. */
void store_pipe_free(struct store_pipe *p);

#endif
