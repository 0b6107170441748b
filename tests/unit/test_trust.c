/* test_trust.c - the "may we rely on this directory" rules (trust.h): every
 * component from "/" checked, no symbolic link anywhere, owners root or us,
 * nothing writable by others but a sticky root-owned directory above the
 * last; creation; and opening beneath a directory without following links,
 * with openat2 and with the walk kept for kernels without it; the
 * resolver for paths users hand us (realpath's answers, bounded links, the
 * sticky-directory rule) and umask-following modes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "scratch.h"

#include "jobdir.h"
#include "log.h"
#include "pkglist.h"
#include "strutil.h"
#include "trust.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *base;

static int setup(void **state)
{
    (void)state;
    pm_log_init("test_trust");
    base = scratch_new("test-trust");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    scratch_free(base);
    return 0;
}

static char *at(const char *rel)
{
    char *p = pm_path_join(base, rel);
    assert_non_null(p);
    return p;
}

/* Refused, with why containing want. */
static void refused(const char *path, unsigned flags, const char *want)
{
    char *why = NULL;
    int fd = pm_trust_open(path, flags, NULL, NULL, &why);
    if (fd >= 0)
        fail_msg("%s was trusted", path);
    assert_non_null(why);
    if (!strstr(why, want))
        fail_msg("%s: reason '%s' lacks '%s'", path, why, want);
    free(why);
}

static void trusted(const char *path, unsigned flags)
{
    char *why = NULL;
    int fd = pm_trust_open(path, flags, NULL, NULL, &why);
    if (fd < 0)
        fail_msg("%s refused: %s", path, why ? why : "?");
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    close(fd);
}

static void private_dir_in_tmp(void **state)
{
    (void)state;
    trusted(base, PM_TRUST_MINE | PM_TRUST_PRIVATE);   /* /tmp is sticky, root-owned */
    trusted("/", 0);
    char *rel = pm_printf_alloc("%s/.", base);
    trusted(rel, PM_TRUST_MINE);
    free(rel);
    /* /tmp itself: fine to work in, never to rely on as one's own */
    refused("/tmp", 0, "/tmp is writable by other users (mode 1777)");
    trusted("/tmp", PM_TRUST_CONTAINER);
    refused("/tmp/..", 0, "climbs with '..'");
}

static void symlink_anywhere(void **state)
{
    (void)state;
    char *real = at("real"), *link = at("link"), *below = at("link/sub");
    assert_int_equal(mkdir(real, 0700), 0);
    char *sub = at("real/sub");
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(symlink(real, link), 0);
    refused(link, 0, "link is a symbolic link");
    refused(below, 0, "link is a symbolic link");    /* an ancestor, too */
    /* resolved first (PYTHONHOME): a link in a trusted directory is fine,
     * and the path checked is the one handed back */
    char *why = NULL, *res = NULL;
    int fd = pm_trust_open(below, PM_TRUST_RESOLVE, NULL, &res, &why);
    assert_true(fd >= 0);
    assert_string_equal(res, sub);
    close(fd);
    free(res);
    free(real);
    free(link);
    free(below);
    free(sub);
}

static void writable_by_others(void **state)
{
    (void)state;
    char *open_dir = at("open"), *inside = at("open/mine");
    assert_int_equal(mkdir(open_dir, 0700), 0);
    assert_int_equal(mkdir(inside, 0700), 0);
    const mode_t bad[] = {0777, 0770, 0722, 0702, 01777 /* sticky, but ours, not root's */};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(chmod(open_dir, bad[i]), 0);
        char want[64];
        snprintf(want, sizeof want, "open is writable by other users (mode %04o)", (unsigned)bad[i]);
        if (bad[i] == 01777 && geteuid() == 0)
            trusted(inside, 0);   /* root's sticky directory is /tmp's kind */
        else
            refused(inside, 0, want);
        refused(open_dir, 0, want);
    }
    assert_int_equal(chmod(open_dir, 0755), 0);
    trusted(inside, PM_TRUST_MINE | PM_TRUST_PRIVATE);
    refused(open_dir, PM_TRUST_PRIVATE, "open is not private (mode 0755, not 0700)");
    free(open_dir);
    free(inside);
}

static void owned_by_another(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        print_message("# SKIP only root can make a directory owned by someone else\n");
        skip();
    }
    char *theirs = at("theirs"), *below = at("theirs/x");
    assert_int_equal(mkdir(theirs, 0755), 0);
    assert_int_equal(mkdir(below, 0755), 0);
    assert_int_equal(chown(theirs, 65534, 65534), 0);
    refused(theirs, PM_TRUST_MINE, "theirs is owned by uid 65534, not 0");
    refused(theirs, 0, "theirs is owned by uid 65534");
    refused(below, 0, "theirs is owned by uid 65534");   /* as an ancestor */
    free(theirs);
    free(below);
}

/* PYTHONHOME's rules: a team's installation (another owner, group-writable)
 * is fine outside world-writable places, but not writable by everybody, and
 * below /tmp or /dev/shm the strict rules hold. */
static void group_installations(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        print_message("# SKIP only root can make a directory owned by someone else\n");
        skip();
    }
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    char *tmpl = pm_printf_alloc("%s/test-trust-group.XXXXXX", cwd);
    assert_non_null(tmpl);
    assert_non_null(mkdtemp(tmpl));
    assert_int_equal(chmod(tmpl, 0755), 0);
    char *team = pm_path_join(tmpl, "team"), *py = pm_path_join(tmpl, "team/py");
    assert_int_equal(mkdir(team, 0775), 0);
    assert_int_equal(chmod(team, 02775), 0);
    assert_int_equal(mkdir(py, 0755), 0);
    assert_int_equal(chown(team, 65534, 65534), 0);
    assert_int_equal(chown(py, 65534, 65534), 0);
    if (strstr(cwd, "/tmp") != cwd && strstr(cwd, "/dev/shm") != cwd) {
        trusted(py, PM_TRUST_GROUP | PM_TRUST_RESOLVE);
        /* a member's link in the team directory: followed for the team */
        char *tl = pm_path_join(tmpl, "team/link");
        assert_int_equal(symlink("py", tl), 0);
        assert_int_equal(lchown(tl, 65534, 65534), 0);
        trusted(tl, PM_TRUST_GROUP | PM_TRUST_RESOLVE);
        refused(tl, PM_TRUST_RESOLVE, "team is writable by other users and not sticky (mode 2775)");
        free(tl);
        /* without the flag the group is not trusted: py is one of its
         * entries, which any member may replace */
        refused(py, PM_TRUST_RESOLVE, "team is writable by other users and not sticky (mode 2775)");
        assert_int_equal(chmod(team, 0777), 0);
        refused(py, PM_TRUST_GROUP | PM_TRUST_RESOLVE,
                "team is writable by other users and not sticky (mode 0777): anyone there can replace");
        assert_int_equal(chmod(team, 01777), 0);
        refused(py, PM_TRUST_GROUP, "team is writable by everybody (mode 1777)");   /* sticky, not root's */
    }
    /* below /tmp (base is there): another user's directory is refused */
    char *theirs = at("theirs-group");
    assert_int_equal(mkdir(theirs, 0755), 0);
    assert_int_equal(chown(theirs, 65534, 65534), 0);
    refused(theirs, PM_TRUST_GROUP | PM_TRUST_RESOLVE, "theirs-group is owned by uid 65534");
    char *mine = at("mine-group");
    assert_int_equal(mkdir(mine, 0755), 0);
    trusted(mine, PM_TRUST_GROUP | PM_TRUST_RESOLVE);
    assert_int_equal(pm_rmtree(tmpl, NULL), 0);
    free(tmpl);
    free(team);
    free(py);
    free(theirs);
    free(mine);
}

static void not_a_directory(void **state)
{
    (void)state;
    char *file = at("file"), *below = at("file/x");
    int fd = open(file, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    refused(file, 0, "file is not a directory");
    refused(below, 0, "file is not a directory");
    char *missing = at("missing");
    refused(missing, 0, "cannot open");
    free(file);
    free(below);
    free(missing);
}

static void creates(void **state)
{
    (void)state;
    char *one = at("made"), *deep = at("a/b/c");
    int created = -1;
    char *why = NULL;
    int fd = pm_trust_open(one, PM_TRUST_CREATE | PM_TRUST_MINE | PM_TRUST_PRIVATE, &created, NULL, &why);
    assert_true(fd >= 0);
    assert_int_equal(created, 1);
    close(fd);
    fd = pm_trust_open(one, PM_TRUST_CREATE | PM_TRUST_MINE, &created, NULL, &why);
    assert_true(fd >= 0);
    assert_int_equal(created, 0);   /* there already */
    close(fd);
    /* CREATE makes the last component only; CREATE_ALL every one, 0700 */
    fd = pm_trust_open(deep, PM_TRUST_CREATE, &created, NULL, &why);
    assert_int_equal(fd, -1);
    assert_int_equal(errno, ENOENT);
    free(why);
    why = NULL;
    fd = pm_trust_open(deep, PM_TRUST_CREATE_ALL | PM_TRUST_MINE | PM_TRUST_PRIVATE, &created, NULL, &why);
    assert_true(fd >= 0);
    assert_int_equal(created, 1);
    close(fd);
    struct stat st;
    char *mid = at("a/b");
    assert_int_equal(stat(mid, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    /* never through a planted link: a dangling one is not created through */
    char *dangling = at("dangling"), *nowhere = at("nowhere"), *via = at("dangling/x");
    assert_int_equal(symlink(nowhere, dangling), 0);
    refused(dangling, PM_TRUST_CREATE, "dangling is a symbolic link");
    refused(via, PM_TRUST_CREATE_ALL, "dangling is a symbolic link");
    assert_int_equal(lstat(nowhere, &st), -1);
    free(one);
    free(deep);
    free(mid);
    free(dangling);
    free(nowhere);
    free(via);
}

static void env_dir(void **state)
{
    (void)state;
    const char *v = (const char *)1;
    unsetenv("PM_TEST_HOME");
    assert_int_equal(pm_trust_env_dir("PM_TEST_HOME", PM_TRUST_MINE, &v, NULL), 0);
    assert_null(v);
    setenv("PM_TEST_HOME", "", 1);
    assert_int_equal(pm_trust_env_dir("PM_TEST_HOME", PM_TRUST_MINE, &v, NULL), 0);
    assert_null(v);
    setenv("PM_TEST_HOME", base, 1);
    assert_int_equal(pm_trust_env_dir("PM_TEST_HOME", PM_TRUST_MINE, &v, NULL), 0);
    assert_string_equal(v, base);
    /* missing: in a shared directory a name anybody could make */
    char *missing = at("not-there");
    setenv("PM_TEST_HOME", missing, 1);
    assert_int_equal(pm_trust_env_dir("PM_TEST_HOME", PM_TRUST_MINE, &v, NULL), -1);
    setenv("PM_TEST_HOME", "/tmp", 1);
    assert_int_equal(pm_trust_env_dir("PM_TEST_HOME", 0, &v, NULL), -1);
    unsetenv("PM_TEST_HOME");
    free(missing);
}


/* pm_trust_realpath gives realpath's answer, or NULL with errno and a
 * reason containing want. */
static void resolves_as_realpath(const char *path)
{
    char *why = NULL;
    char *mine = pm_trust_realpath(path, &why);
    char *libc = realpath(path, NULL);
    if (!mine)
        fail_msg("%s not resolved: %s", path, why ? why : "?");
    assert_non_null(libc);
    assert_string_equal(mine, libc);
    assert_null(why);
    free(mine);
    free(libc);
}

static void not_resolved(const char *path, int err, const char *want)
{
    char *why = NULL;
    char *mine = pm_trust_realpath(path, &why);
    if (mine)
        fail_msg("%s resolved to %s", path, mine);
    assert_int_equal(errno, err);
    assert_non_null(why);
    if (!strstr(why, want))
        fail_msg("%s: reason '%s' lacks '%s'", path, why, want);
    free(why);
}

static void mkdir_at(const char *rel, mode_t mode)
{
    char *p = at(rel);
    assert_int_equal(mkdir(p, mode), 0);
    assert_int_equal(chmod(p, mode), 0);   /* whatever the umask */
    free(p);
}

static void link_at(const char *target, const char *rel)
{
    char *p = at(rel);
    assert_int_equal(symlink(target, p), 0);
    free(p);
}

/* Relative and absolute links, "..", ".", a link's ".." being its
 * target's parent, trailing slashes, a relative starting point. */
static void realpath_walk(void **state)
{
    (void)state;
    mkdir_at("rp", 0700);
    mkdir_at("rp/a", 0700);
    mkdir_at("rp/b", 0700);
    mkdir_at("rp/b/c", 0700);
    char *f = at("rp/b/c/f");
    int fd = open(f, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    link_at("../b", "rp/a/rel");            /* relative, climbing */
    char *abs_b = at("rp/b");
    link_at(abs_b, "rp/a/abs");             /* absolute */
    link_at("../b/c", "rp/a/deep");         /* deep/.. is rp/b, not rp/a */
    link_at("rel/c/f", "rp/a/chain");       /* a link through a link */
    link_at("f", "rp/b/c/lf");              /* to a file */
    const char *cases[] = {"rp", "rp/a/rel", "rp/a/rel/c/f", "rp/a/abs/c", "rp/a/deep/..",
                           "rp/a/deep/../c/./f", "rp/a/chain", "rp/b/c/lf", "rp/a/rel/", "rp//a/./../b",
                           "rp/a/../../rp/b/c/../c"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *p = at(cases[i]);
        resolves_as_realpath(p);
        free(p);
    }
    resolves_as_realpath("/");
    resolves_as_realpath("/..");
    resolves_as_realpath("/tmp/../tmp/.");
    /* from the working directory */
    char *cwd = getcwd(NULL, 0);
    assert_non_null(cwd);
    assert_int_equal(chdir(abs_b), 0);
    resolves_as_realpath("c/f");
    resolves_as_realpath("../a/deep/..");
    resolves_as_realpath(".");
    assert_int_equal(chdir(cwd), 0);
    free(cwd);
    /* failures: missing, a file used as a directory, an empty name */
    char *p = at("rp/a/rel/missing");
    not_resolved(p, ENOENT, "No such file or directory");
    free(p);
    p = at("rp/missing/x");
    not_resolved(p, ENOENT, "rp/missing: No such file or directory");
    free(p);
    p = at("rp/b/c/f/x");
    not_resolved(p, ENOTDIR, "rp/b/c/f is not a directory");
    free(p);
    p = at("rp/b/c/lf/");   /* a link to a file, used as a directory */
    not_resolved(p, ENOTDIR, "rp/b/c/f is not a directory");
    free(p);
    not_resolved("", ENOENT, "No such file or directory");
    free(f);
    free(abs_b);
}

/* Loops and the depth limit: 40 links in one resolution, not 41. */
static void realpath_links_bounded(void **state)
{
    (void)state;
    mkdir_at("lp", 0700);
    link_at("l2", "lp/l1");
    link_at("l1", "lp/l2");
    link_at("self", "lp/self");
    char *p = at("lp/l1");
    not_resolved(p, ELOOP, "more than 40 symbolic links");
    free(p);
    p = at("lp/self/x");
    not_resolved(p, ELOOP, "a loop?");
    free(p);
    mkdir_at("lp/end", 0700);
    for (int i = 1; i <= PM_TRUST_MAX_LINKS + 1; i++) {
        char name[32], target[32];
        snprintf(name, sizeof name, "lp/c%d", i);
        if (i == 1)
            snprintf(target, sizeof target, "end");
        else
            snprintf(target, sizeof target, "c%d", i - 1);
        link_at(target, name);
    }
    char name[32];
    snprintf(name, sizeof name, "lp/c%d", PM_TRUST_MAX_LINKS);
    p = at(name);
    resolves_as_realpath(p);   /* exactly the limit */
    free(p);
    snprintf(name, sizeof name, "lp/c%d", PM_TRUST_MAX_LINKS + 1);
    p = at(name);
    not_resolved(p, ELOOP, "more than 40");
    free(p);
}

/* The sticky rule: in a sticky, world-writable directory a link is
 * followed only if ours or the directory owner's; in a world-writable one
 * that is not sticky none; elsewhere any link.
 * Needs root (lchown to other uids). */
static void realpath_sticky_rule(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    const uid_t other = 4242, owner = 4343;
    mkdir_at("st", 0755);
    mkdir_at("st/target", 0755);
    mkdir_at("st/shared", 01777);           /* like /tmp, but owned by `owner` */
    char *shared = at("st/shared");
    assert_int_equal(chown(shared, owner, 0), 0);
    mkdir_at("st/open", 0777);              /* world-writable, not sticky */
    mkdir_at("st/sticky-private", 01755);   /* sticky, not world-writable */
    const char *dirs[] = {"st/shared", "st/open", "st/sticky-private"};
    const uid_t uids[] = {other, owner, 0};
    for (size_t d = 0; d < 3; d++)
        for (size_t u = 0; u < 3; u++) {
            char rel[64];
            snprintf(rel, sizeof rel, "%s/l%zu", dirs[d], u);
            link_at("../target", rel);
            char *p = at(rel);
            assert_int_equal(lchown(p, uids[u], 0), 0);
            if (d == 1) {   /* not sticky: nobody's link is followed there */
                char want[256];
                snprintf(want, sizeof want, "/st/open is writable by other users and not sticky (mode 0777): "
                         "anyone there can replace %s", p);
                not_resolved(p, EPERM, want);
            } else if (d == 0 && u == 0) {
                char want[256];
                snprintf(want, sizeof want,
                         "%s is a symbolic link owned by uid 4242 in the shared sticky directory %s", p, shared);
                not_resolved(p, EPERM, want);
                /* ... also further down a path, and after another link */
                char *below = pm_path_join(p, "x");
                not_resolved(below, EPERM, "owned by uid 4242");
                free(below);
            } else {
                resolves_as_realpath(p);   /* ours, the directory owner's, or not shared */
            }
            free(p);
        }
    link_at("shared/l0", "st/via");   /* reached through a link of ours */
    char *via = at("st/via");
    not_resolved(via, EPERM, "shared sticky directory");
    /* PM_TRUST_RESOLVE (PYTHONHOME's check) says the same */
    char *why = NULL;
    assert_int_equal(pm_trust_open(via, PM_TRUST_RESOLVE | PM_TRUST_GROUP, NULL, NULL, &why), -1);
    assert_non_null(why);
    assert_non_null(strstr(why, "is a symbolic link owned by uid 4242 in the shared sticky directory"));
    free(why);
    free(via);
    free(shared);
}


/* The rule for directories others can write to that are not sticky
 * (issue 21, red-team #5): no entry of theirs is used, link or directory,
 * whoever owns it; a group-writable one only where the group is trusted
 * (PM_TRUST_GROUP, or a group of ours alone); sticky ones keep the link
 * owner rule.  Needs root (chown to other ids). */
static void realpath_nonsticky_rule(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    mkdir_at("ns", 0755);
    mkdir_at("ns/target", 0755);
    mkdir_at("ns/open", 0777);
    mkdir_at("ns/open/real", 0700);     /* ours, but replaceable by anyone */
    link_at("../target", "ns/open/mine");
    char *open_dir = at("ns/open"), *real = at("ns/open/real"), *mine = at("ns/open/mine");
    char want[512];
    snprintf(want, sizeof want, "%s is writable by other users and not sticky (mode 0777): anyone there can replace %s",
             open_dir, mine);
    not_resolved(mine, EPERM, want);
    not_resolved(real, EPERM, "not sticky (mode 0777): anyone there can replace");
    /* under every flag: PYTHONHOME's check says the same */
    char *why = NULL;
    assert_int_equal(pm_trust_open(mine, PM_TRUST_RESOLVE | PM_TRUST_GROUP, NULL, NULL, &why), -1);
    assert_non_null(why);
    if (!strstr(why, want))
        fail_msg("pm_trust_open: '%s' lacks '%s'", why, want);
    free(why);
    why = NULL;
    char *r = pm_trust_realpath_flags(mine, PM_TRUST_GROUP, &why);
    assert_null(r);
    assert_int_equal(errno, EPERM);
    free(why);
    why = NULL;
    /* a file about to be written there: refused too (anyone can replace
     * it); in a directory of ours, or a sticky one, it is not */
    int refused_out = 0;
    char *outp = at("ns/open/out.json");
    char *o = pm_trust_realpath_parent(outp, &refused_out, &why);
    assert_null(o);
    assert_int_equal(refused_out, 1);
    assert_non_null(why);
    if (!strstr(why, "ns/open is writable by other users and not sticky (mode 0777): anyone there can replace"))
        fail_msg("realpath_parent: '%s'", why);
    free(why);
    why = NULL;
    free(outp);
    outp = at("ns/target/out.json");
    o = pm_trust_realpath_parent(outp, &refused_out, &why);
    assert_non_null(o);
    assert_string_equal(o, outp);
    assert_int_equal(refused_out, 0);
    free(o);
    free(outp);
    /* group-writable, a group we are not alone in (nogroup) */
    mkdir_at("ns/team", 02775);
    mkdir_at("ns/team/py", 0755);
    link_at("py", "ns/team/link");
    char *team = at("ns/team"), *tpy = at("ns/team/py"), *tlink = at("ns/team/link");
    assert_int_equal(chown(team, 0, 65534), 0);
    not_resolved(tlink, EPERM, "team is writable by other users and not sticky (mode 2775)");
    not_resolved(tpy, EPERM, "anyone there can replace");
    r = pm_trust_realpath_flags(tlink, PM_TRUST_GROUP, &why);   /* a team installation */
    if (!r)
        fail_msg("%s under PM_TRUST_GROUP: %s", tlink, why ? why : "?");
    assert_string_equal(r, tpy);
    free(r);
    /* ... a group of ours alone (root's own group) is ours */
    assert_int_equal(chown(team, 0, 0), 0);
    resolves_as_realpath(tlink);
    /* group-writable and sticky: the link owner rule */
    assert_int_equal(chown(team, 0, 65534), 0);
    assert_int_equal(chmod(team, 01775), 0);
    resolves_as_realpath(tlink);   /* ours */
    assert_int_equal(lchown(tlink, 4242, 0), 0);
    not_resolved(tlink, EPERM, "is a symbolic link owned by uid 4242 in the shared sticky directory");
    free(open_dir);
    free(real);
    free(mine);
    free(team);
    free(tpy);
    free(tlink);
}


/* pm_pkglist_resolve (rank 0's bundle paths): resolved, kept when missing,
 * refused through another user's link in a sticky shared directory. */
static void pkglist_resolved(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    mkdir_at("pk", 0755);
    mkdir_at("pk/real", 0755);
    mkdir_at("pk/shared", 01777);
    char *b = at("pk/real/b.tar");
    int fd = open(b, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    link_at("../real", "pk/shared/mine");
    link_at("../real", "pk/shared/theirs");
    char *theirs = at("pk/shared/theirs");
    assert_int_equal(lchown(theirs, 4242, 4242), 0);
    char *root = at("pk/shared/mine");
    pm_pkglist l;
    pm_pkglist_init(&l);
    char *err = NULL;
    assert_int_equal(pm_pkglist_parse(&l, "b.tar:missing.tar", root, 1, &err), 0);
    assert_int_equal(pm_pkglist_resolve(&l, &err), 0);
    assert_string_equal(l.paths[0], b);            /* through our own link */
    assert_non_null(strstr(l.paths[1], "pk/shared/mine/missing.tar"));   /* kept as given */
    pm_pkglist_free(&l);
    assert_int_equal(pm_pkglist_parse(&l, "b.tar", theirs, 1, &err), 0);
    assert_int_equal(pm_pkglist_resolve(&l, &err), -1);
    assert_non_null(err);
    assert_non_null(strstr(err, "b.tar: refusing to read the bundle: "));
    assert_non_null(strstr(err, "theirs is a symbolic link owned by uid 4242 in the shared sticky directory"));
    free(err);
    pm_pkglist_free(&l);
    free(b);
    free(theirs);
    free(root);
}

/* Modes of files made with mkstemp follow the umask. */
static void umask_modes(void **state)
{
    (void)state;
    mode_t old = umask(077);
    assert_int_equal(pm_umask_mode(0666), 0600);
    umask(022);
    assert_int_equal(pm_umask_mode(0666), 0644);
    umask(002);
    assert_int_equal(pm_umask_mode(0666), 0664);
    umask(old);
}

/* pm_openat_beneath, with openat2 and with the O_NOFOLLOW walk. */
static void beneath(void **state)
{
    (void)state;
    char *d = at("tree"), *f = at("tree/sub/f"), *sub = at("tree/sub");
    char *l = at("tree/l"), *dl = at("tree/dl"), *outside = at("outside");
    assert_int_equal(mkdir(d, 0700), 0);
    assert_int_equal(mkdir(sub, 0700), 0);
    int fd = open(f, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    fd = open(outside, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(symlink("sub/f", l), 0);        /* contained, still a link */
    assert_int_equal(symlink("..", dl), 0);          /* a directory link climbing out */
    int root = open(d, O_RDONLY | O_DIRECTORY);
    assert_true(root >= 0);
    for (int walk = 0; walk < 2; walk++) {
        pm_trust_force_walk = walk;
        fd = pm_openat_beneath(root, "sub/f", O_RDONLY, 0);
        assert_true(fd >= 0);
        close(fd);
        fd = pm_openat_beneath(root, "./sub/./f", O_RDONLY, 0);
        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(pm_openat_beneath(root, "l", O_RDONLY, 0), -1);
        assert_int_equal(errno, ELOOP);
        assert_int_equal(pm_openat_beneath(root, "dl/outside", O_RDONLY, 0), -1);
        assert_int_equal(pm_openat_beneath(root, "../outside", O_RDONLY, 0), -1);
        assert_int_equal(pm_openat_beneath(root, "sub/../../outside", O_RDONLY, 0), -1);
        assert_int_equal(pm_openat_beneath(root, "/etc/passwd", O_RDONLY, 0), -1);
        const char *b;
        fd = pm_openat_parent_beneath(root, "sub/f", &b);
        assert_true(fd >= 0);
        assert_string_equal(b, "f");
        close(fd);
        fd = pm_openat_parent_beneath(root, "top", &b);
        assert_true(fd >= 0);
        assert_string_equal(b, "top");
        close(fd);
        assert_int_equal(pm_openat_parent_beneath(root, "dl/x", &b), -1);
        /* O_CREAT applies to the last component, never through a link */
        fd = pm_openat_beneath(root, "sub/new", O_WRONLY | O_CREAT | O_EXCL, 0600);
        assert_true(fd >= 0);
        close(fd);
        char *made = at("tree/sub/new");
        assert_int_equal(unlink(made), 0);
        free(made);
        assert_int_equal(pm_openat_beneath(root, "dl/new", O_WRONLY | O_CREAT, 0600), -1);
        char *escaped = at("new");
        struct stat st;
        assert_int_equal(lstat(escaped, &st), -1);
        free(escaped);
    }
    pm_trust_force_walk = 0;
    close(root);
    free(d);
    free(f);
    free(sub);
    free(l);
    free(dl);
    free(outside);
}

/* pm_trust_input_dir: used as pm_trust_input_dir would return it, or
 * refused with errno and a reason containing want. */
static void input_ok(const char *path, const char *want_real)
{
    char *why = NULL;
    char *real = pm_trust_input_dir(path, &why);
    if (!real)
        fail_msg("%s refused: %s", path, why ? why : "?");
    assert_string_equal(real, want_real);
    assert_null(why);
    free(real);
}

static void input_refused(const char *path, int err, const char *want)
{
    char *why = NULL;
    char *real = pm_trust_input_dir(path, &why);
    if (real)
        fail_msg("%s was used (%s)", path, real);
    assert_int_equal(errno, err);
    assert_non_null(why);
    if (!strstr(why, want))
        fail_msg("%s: reason '%s' lacks '%s'", path, why, want);
    free(why);
}

/* The directories PYTHON_MPI_ENV delivers as code (DIR, SRC, editable
 * ones): ours and root's unless writable by others; another user's only
 * if nobody else could write it and it is not below a directory everybody
 * writes to; a link another user planted in a sticky directory refused. */
static void input_dirs(void **state)
{
    (void)state;
    mkdir_at("in", 0755);
    mkdir_at("in/mine", 0755);
    char *in = at("in"), *mine = at("in/mine"), *file = at("in/file");
    input_ok(mine, mine);
    input_ok("/usr", "/usr");   /* root's */
    char *dotted = pm_printf_alloc("%s/../in/./mine/", in);
    input_ok(dotted, mine);
    free(dotted);
    assert_int_equal(chmod(mine, 0777), 0);
    input_refused(mine, EPERM, "mine is writable by other users (mode 0777): they can put modules in it");
    assert_int_equal(chmod(mine, 0757), 0);
    input_refused(mine, EPERM, "(mode 0757)");
    assert_int_equal(chmod(mine, 0755), 0);
    input_refused("/tmp", EPERM, "/tmp is writable by other users (mode 1777)");   /* root's, everybody's */
    int fd = open(file, O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    close(fd);
    input_refused(file, ENOTDIR, "file is not a directory");
    char *missing = at("in/missing");
    input_refused(missing, ENOENT, "No such file or directory");
    free(missing);
    if (geteuid() != 0) {
        print_message("# SKIP (partly) only root can make directories of other owners\n");
        goto out;
    }
    /* Another user's: writable by others, or below /tmp (everybody's). */
    mkdir_at("in/theirs", 0755);
    char *theirs = at("in/theirs");
    assert_int_equal(chown(theirs, 4242, 4242), 0);
    input_refused(theirs, EPERM, "theirs is owned by uid 4242 and lies in /tmp, which everybody can write to");
    assert_int_equal(chmod(theirs, 0775), 0);
    input_refused(theirs, EPERM, "theirs is owned by uid 4242 and writable by other users (mode 0775)");
    /* ... and a link of theirs in a sticky directory, to a directory of ours */
    mkdir_at("in/sticky", 01777);
    link_at("../mine", "in/sticky/l");
    char *l = at("in/sticky/l");
    assert_int_equal(lchown(l, 4242, 0), 0);
    input_refused(l, EPERM, "is a symbolic link owned by uid 4242 in the shared sticky directory");
    assert_int_equal(lchown(l, 0, 0), 0);
    input_ok(l, mine);
    free(l);
    free(theirs);
    /* Outside world-writable places a colleague's 0755 directory is fine
     * (the working directory: the build tree), below one it is not (a
     * checkout under /tmp: the same directory, refused). */
    char tmpl[] = "test-trust-in.XXXXXX";
    char *outside = mkdtemp(tmpl) ? realpath(tmpl, NULL) : NULL;
    assert_non_null(outside);
    int in_open = 0;
    char *up = strdup(outside);
    for (char *slash; up && (slash = strrchr(up, '/')) != NULL;) {
        *slash = '\0';
        struct stat st;
        assert_int_equal(stat(*up ? up : "/", &st), 0);
        in_open |= (st.st_mode & S_IWOTH) != 0;
        if (!*up)
            break;
    }
    free(up);
    assert_int_equal(chmod(outside, 0755), 0);
    assert_int_equal(chown(outside, 4242, 4242), 0);
    if (in_open)
        input_refused(outside, EPERM, "everybody can write");
    else
        input_ok(outside, outside);
    assert_int_equal(chmod(outside, 0777), 0);
    input_refused(outside, EPERM, "owned by uid 4242 and writable by other users (mode 0777)");
    assert_int_equal(rmdir(outside), 0);
    free(outside);
out:
    free(in);
    free(mine);
    free(file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(private_dir_in_tmp),
        cmocka_unit_test(symlink_anywhere),
        cmocka_unit_test(writable_by_others),
        cmocka_unit_test(owned_by_another),
        cmocka_unit_test(group_installations),
        cmocka_unit_test(not_a_directory),
        cmocka_unit_test(creates),
        cmocka_unit_test(env_dir),
        cmocka_unit_test(beneath),
        cmocka_unit_test(realpath_walk),
        cmocka_unit_test(realpath_links_bounded),
        cmocka_unit_test(realpath_sticky_rule),
        cmocka_unit_test(realpath_nonsticky_rule),
        cmocka_unit_test(umask_modes),
        cmocka_unit_test(pkglist_resolved),
        cmocka_unit_test(input_dirs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
