/* Unit tests of GPOOL_LOG parsing and of the log's silence by default. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gpool/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_parse_levels(void **state)
{
    enum gpool_log_level level;
    const char *path;
    (void)state;

    assert_int_equal(gpool_log_parse("error", &level, &path), 0);
    assert_int_equal(level, GPOOL_LOG_ERROR);
    assert_null(path);
    assert_int_equal(gpool_log_parse("trace", &level, &path), 0);
    assert_int_equal(level, GPOOL_LOG_TRACE);
    assert_int_equal(gpool_log_parse("debug:/tmp/x.log", &level, &path), 0);
    assert_int_equal(level, GPOOL_LOG_DEBUG);
    assert_string_equal(path, "/tmp/x.log");
}

static void test_parse_rejects_bad_input(void **state)
{
    enum gpool_log_level level;
    const char *path;
    (void)state;

    assert_int_equal(gpool_log_parse("", &level, &path), -EINVAL);
    assert_int_equal(gpool_log_parse("loud", &level, &path), -EINVAL);
    assert_int_equal(gpool_log_parse("info:", &level, &path), -EINVAL);
    assert_int_equal(gpool_log_parse("err", &level, &path), -EINVAL);
    assert_int_equal(gpool_log_parse("errors", &level, &path), -EINVAL);
}

/* With GPOOL_LOG set to a file, messages at or above the level land there, one line each. */
static void test_log_to_file(void **state)
{
    char path[] = "/tmp/gpool-test-log-XXXXXX";
    char spec[64];
    char buf[512] = {0};
    (void)state;

    int fd = mkstemp(path);
    assert_true(fd >= 0);
    snprintf(spec, sizeof(spec), "info:%s", path);
    setenv("GPOOL_LOG", spec, 1);

    LOG_INFO("test", "hello %d", 42);
    LOG_DEBUG("test", "must not appear");
    LOG_ERROR("test", "bad thing");
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    unlink(path);
    assert_true(n > 0);
    assert_non_null(strstr(buf, "test: info: hello 42\n"));
    assert_non_null(strstr(buf, "test: error: bad thing\n"));
    assert_null(strstr(buf, "must not appear"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_levels),
        cmocka_unit_test(test_parse_rejects_bad_input),
        cmocka_unit_test(test_log_to_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
