/* slowfs.c - a simulated shared file system for the start-up benchmark.
 *
 *   slowfs SOURCE MOUNTPOINT DELAY_US COUNTFILE
 *
 * A read-only FUSE passthrough of SOURCE served by ONE thread that sleeps
 * DELAY_US before answering each request, like a single metadata server
 * under load.  Every request is counted; the count goes to COUNTFILE on
 * unmount.  Kernel caching of attributes, entries and pages is off so that
 * every lookup a process makes reaches the "server". */
#define FUSE_USE_VERSION 31
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *source;
static const char *countfile;
static long delay_us;
static unsigned long long ops;

static char *real(const char *path)
{
    size_t n = strlen(source) + strlen(path) + 1;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s%s", source, path);
    return p;
}

static void serve(void)
{
    ops++;
    struct timespec ts = {delay_us / 1000000, (delay_us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
    (void)conn;
    cfg->entry_timeout = 0;
    cfg->attr_timeout = 0;
    cfg->negative_timeout = 0;
    cfg->direct_io = 1;
    cfg->kernel_cache = 0;
    return NULL;
}

static void fs_destroy(void *data)
{
    (void)data;
    FILE *f = fopen(countfile, "w");
    if (f) {
        fprintf(f, "%llu\n", ops);
        fclose(f);
    }
}

static int fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    (void)fi;
    serve();
    char *p = real(path);
    int rc = p && lstat(p, st) == 0 ? 0 : -errno;
    free(p);
    return rc;
}

static int fs_readlink(const char *path, char *buf, size_t size)
{
    serve();
    char *p = real(path);
    ssize_t n = p ? readlink(p, buf, size - 1) : -1;
    int rc = n < 0 ? -errno : 0;
    if (n >= 0)
        buf[n] = '\0';
    free(p);
    return rc;
}

static int fs_open(const char *path, struct fuse_file_info *fi)
{
    serve();
    if ((fi->flags & O_ACCMODE) != O_RDONLY)
        return -EROFS;
    char *p = real(path);
    int fd = p ? open(p, O_RDONLY) : -1;
    int rc = fd < 0 ? -errno : 0;
    free(p);
    fi->fh = (uint64_t)fd;
    return rc;
}

static int fs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
    (void)path;
    serve();
    ssize_t n = pread((int)fi->fh, buf, size, off);
    return n < 0 ? -errno : (int)n;
}

static int fs_release(const char *path, struct fuse_file_info *fi)
{
    (void)path;
    close((int)fi->fh);
    return 0;
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
                      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
    (void)off;
    (void)fi;
    (void)flags;
    serve();
    char *p = real(path);
    DIR *d = p ? opendir(p) : NULL;
    free(p);
    if (!d)
        return -errno;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (fill(buf, e->d_name, NULL, 0, 0))
            break;
    closedir(d);
    return 0;
}

static int fs_opendir(const char *path, struct fuse_file_info *fi)
{
    (void)path;
    (void)fi;
    serve();
    return 0;
}

static const struct fuse_operations ops_table = {
    .init = fs_init, .destroy = fs_destroy, .getattr = fs_getattr,
    .readlink = fs_readlink, .open = fs_open, .read = fs_read,
    .release = fs_release, .readdir = fs_readdir, .opendir = fs_opendir,
};

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: slowfs SOURCE MOUNTPOINT DELAY_US COUNTFILE\n");
        return 2;
    }
    source = argv[1];
    delay_us = strtol(argv[3], NULL, 10);
    countfile = argv[4];
    /* -s: one thread, so requests queue as at a single metadata server;
     * -f: stay in the foreground (the benchmark stops us). */
    char *fargv[] = {argv[0], argv[2], "-s", "-f", "-o", "ro,allow_other,default_permissions", NULL};
    return fuse_main(6, fargv, &ops_table, NULL);
}
