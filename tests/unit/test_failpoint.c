/* Unit tests of GPOOL_FAILPOINTS: parsing, actions, prefixes, and a crash in a child. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gpool/failpoint.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_error_action(void **state)
{
    (void)state;
    assert_int_equal(gpool_failpoint_configure("a.b=error,c.d=off"), 0);
    assert_int_equal(gpool_failpoint_eval("a.b"), 1);
    assert_int_equal(gpool_failpoint_eval("c.d"), 0);
    assert_int_equal(gpool_failpoint_eval("x.y"), 0);
}

static void test_prefix_match(void **state)
{
    (void)state;
    assert_int_equal(gpool_failpoint_configure("sim.alloc.*=error"), 0);
    assert_int_equal(gpool_failpoint_eval("sim.alloc.before_publish"), 1);
    assert_int_equal(gpool_failpoint_eval("sim.free"), 0);
}

static void test_sleep_action_returns_zero(void **state)
{
    (void)state;
    assert_int_equal(gpool_failpoint_configure("p=sleep:1"), 0);
    assert_int_equal(gpool_failpoint_eval("p"), 0);
}

static void test_bad_specs_rejected(void **state)
{
    (void)state;
    assert_int_equal(gpool_failpoint_configure("p=explode"), -EINVAL);
    assert_int_equal(gpool_failpoint_configure("=error"), -EINVAL);
    assert_int_equal(gpool_failpoint_configure("p=sleep:x"), -EINVAL);
    assert_int_equal(gpool_failpoint_configure("p=sleep:"), -EINVAL);
    /* A rejected spec leaves the previous set in force. */
    assert_int_equal(gpool_failpoint_configure("q=error"), 0);
    assert_int_equal(gpool_failpoint_configure("bad=nope"), -EINVAL);
    assert_int_equal(gpool_failpoint_eval("q"), 1);
}

/* The default action kills the process with SIGKILL exactly at the failpoint. */
static void test_crash_kills_child(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        gpool_failpoint_configure("boom");
        gpool_failpoint_eval("boom");
        _exit(0); /* not reached */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
}

/* The environment variable is read on first use: a fresh image of this program evaluates a
 * failpoint named only in GPOOL_FAILPOINTS. */
static void test_env_is_read(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setenv("GPOOL_FAILPOINTS", "from.env=error", 1);
        execl("/proc/self/exe", "test_failpoint", "--env-child", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--env-child"))
        return gpool_failpoint_eval("from.env") == 1 && gpool_failpoint_eval("other") == 0 ? 0 : 1;

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_action),
        cmocka_unit_test(test_prefix_match),
        cmocka_unit_test(test_sleep_action_returns_zero),
        cmocka_unit_test(test_bad_specs_rejected),
        cmocka_unit_test(test_crash_kills_child),
        cmocka_unit_test(test_env_is_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
