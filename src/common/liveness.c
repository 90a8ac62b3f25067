/* Liveness tokens: OFD locks on one byte of a file (see gpool/liveness.h). */
#include "gpool/liveness.h"

#include <errno.h>
#include <fcntl.h>

int gpool_live_claim(int fd, uint64_t index)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = (off_t)index,
                       .l_len = 1};
    if (fcntl(fd, F_OFD_SETLK, &fl) < 0)
        return errno == EACCES ? -EAGAIN : -errno;
    return 0;
}

void gpool_live_release(int fd, uint64_t index)
{
    struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = (off_t)index,
                       .l_len = 1};
    (void)fcntl(fd, F_OFD_SETLK, &fl);
}

int gpool_live_probe(int probe_fd, uint64_t index)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = (off_t)index,
                       .l_len = 1};
    if (fcntl(probe_fd, F_OFD_GETLK, &fl) < 0)
        return 1;
    return fl.l_type != F_UNLCK;
}
