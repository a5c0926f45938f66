#include "atomicfile.h"
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fsync_dir_of(const char *path, struct err *e)
{
    char tmp[4096];
    if (strlen(path) >= sizeof tmp)
        return err_set(e, "%s: path too long", path);
    strcpy(tmp, path);
    const char *dir = dirname(tmp);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return err_set(e, "%s: %s", dir, strerror(errno));
    int r = fsync(fd);
    int saved = errno;
    close(fd);
    if (r < 0)
        return err_set(e, "%s: fsync: %s", dir, strerror(saved));
    return 0;
}

int atomic_write_file(const char *path, const void *data, size_t len, mode_t mode, struct err *e)
{
    char tmp[4096];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return err_set(e, "%s: path too long", path);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return err_set(e, "%s: cannot create temporary file: %s", path, strerror(errno));
    const uint8_t *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int saved = errno;
            close(fd);
            unlink(tmp);
            return err_set(e, "%s: write: %s", path, strerror(saved));
        }
        p += w;
        left -= (size_t)w;
    }
    if (fchmod(fd, mode) < 0 || fsync(fd) < 0) {
        int saved = errno;
        close(fd);
        unlink(tmp);
        return err_set(e, "%s: %s", path, strerror(saved));
    }
    close(fd);
    if (rename(tmp, path) < 0) {
        int saved = errno;
        unlink(tmp);
        return err_set(e, "%s: rename: %s", path, strerror(saved));
    }
    return fsync_dir_of(path, e);
}

int mkdir_p(const char *path, mode_t mode, struct err *e)
{
    char tmp[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof tmp)
        return err_set(e, "'%s': bad directory path", path);
    memcpy(tmp, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (tmp[i] != '/' && tmp[i] != 0)
            continue;
        char saved = tmp[i];
        tmp[i] = 0;
        if (mkdir(tmp, mode) < 0 && errno != EEXIST)
            return err_set(e, "%s: cannot create directory: %s", tmp, strerror(errno));
        struct stat st;
        if (stat(tmp, &st) < 0 || !S_ISDIR(st.st_mode))
            return err_set(e, "%s: not a directory", tmp);
        tmp[i] = saved;
    }
    return 0;
}

char *read_file(const char *path, size_t max, size_t *len, struct err *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err_set(e, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        err_set(e, "%s: not a regular file", path);
        return NULL;
    }
    if ((size_t)st.st_size > max) {
        close(fd);
        err_set(e, "%s: file too large (%lld bytes, limit %zu)", path, (long long)st.st_size, max);
        return NULL;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        err_set(e, "%s: out of memory", path);
        return NULL;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = 0;
    if (len)
        *len = got;
    return buf;
}
