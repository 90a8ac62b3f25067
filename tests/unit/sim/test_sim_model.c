/* Unit tests of the model table (model.c), the GPOOL_SIM_GPUS parser (gpus.c) and the state
 * image format/validation (state.c, no files involved). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sim.h"
#include "state_layout.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void test_model_lookup(void **state)
{
    (void)state;
    const struct sim_model *h100 = sim_model_find("H100-80GB");
    assert_non_null(h100);
    assert_string_equal(h100->name, "NVIDIA H100 80GB HBM3");
    assert_ptr_equal(sim_model_find("nvidia h100 80gb hbm3"), h100);
    assert_ptr_equal(sim_model_find("h100-80gb"), h100);
    assert_int_equal(h100->sm_count, 132);
    assert_int_equal(h100->cc_major, 9);
    assert_true(h100->vram_bytes == 81559ull << 20);
    assert_non_null(sim_model_find("Tesla T4"));
    assert_non_null(sim_model_find("A100-40GB"));
    assert_non_null(sim_model_find("NVIDIA GeForce RTX 4090"));
    assert_null(sim_model_find("H100"));
    assert_null(sim_model_find(""));
    assert_null(sim_model_find(NULL));
    assert_null(sim_model_at(-1));
}

static void test_model_table_sane(void **state)
{
    (void)state;
    int n = 0;
    for (const struct sim_model *m; (m = sim_model_at(n)); n++) {
        assert_true(m->vram_bytes > 0 && m->vram_bytes % SIM_ALLOC_GRANULE == 0);
        assert_true(m->sm_count > 0 && m->cc_major >= 7 && m->clock_khz > 0);
        assert_true(m->mem_clock_khz > 0 && m->mem_bus_width_bits > 0 && m->l2_bytes > 0);
        assert_true(m->shared_per_block_optin_bytes <= m->shared_per_sm_bytes);
        assert_true(m->regs_per_sm > 0 && m->max_threads_per_sm >= 1024);
        assert_true(m->max_blocks_per_sm > 0 && m->fp16_tflops > 0 && m->tdp_watts > 0);
        assert_true(m->ctx_overhead_bytes > 0 && m->ctx_overhead_bytes < m->vram_bytes / 8);
        assert_true(m->module_overhead_bytes > 0 && m->pci_device_id > 0);
        assert_true(strlen(m->alias) < 32);
        for (int j = 0; j < n; j++) {
            assert_true(strcasecmp(sim_model_at(j)->alias, m->alias) != 0);
            assert_true(strcasecmp(sim_model_at(j)->name, m->name) != 0);
        }
    }
    assert_true(n >= 10);
    assert_non_null(sim_model_find(SIM_DEFAULT_GPUS));
}

static void test_gpus_parse_ok(void **state)
{
    (void)state;
    const struct sim_model *m[SIM_MAX_DEVICES];
    char err[512];
    assert_int_equal(sim_gpus_parse("2xH100-80GB,T4", m, SIM_MAX_DEVICES, err, sizeof(err)), 3);
    assert_string_equal(m[0]->alias, "H100-80GB");
    assert_string_equal(m[1]->alias, "H100-80GB");
    assert_string_equal(m[2]->alias, "T4");
    assert_int_equal(sim_gpus_parse(" a100-40gb , 1X l4 ", m, SIM_MAX_DEVICES, err,
                                    sizeof(err)), 2);
    assert_string_equal(m[1]->alias, "L4");
    assert_int_equal(sim_gpus_parse("NVIDIA A100-SXM4-80GB", m, SIM_MAX_DEVICES, err,
                                    sizeof(err)), 1);
    assert_int_equal(sim_gpus_parse("16xT4", m, SIM_MAX_DEVICES, err, sizeof(err)), 16);
    assert_int_equal(sim_gpus_parse("8xT4,8xL4", m, SIM_MAX_DEVICES, err, sizeof(err)), 16);
}

static void expect_bad(const char *spec, const char *words)
{
    const struct sim_model *m[SIM_MAX_DEVICES];
    char err[1024];
    assert_int_equal(sim_gpus_parse(spec, m, SIM_MAX_DEVICES, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "GPOOL_SIM_GPUS"));
    if (words)
        assert_non_null(strstr(err, words));
}

static void test_gpus_parse_errors(void **state)
{
    (void)state;
    expect_bad("Foo", "unknown model \"Foo\"");
    expect_bad("Foo", "H100-80GB, ");           /* lists the valid aliases */
    expect_bad("", "empty");
    expect_bad("T4,", "empty");
    expect_bad(",T4", "empty");
    expect_bad("0xT4", "bad count 0");
    expect_bad("17xT4", "bad count 17");
    expect_bad("9999xT4", "bad count");
    expect_bad("2x", "count without a model");
    expect_bad("2x ", NULL);
    expect_bad("9xT4,9xT4", "more than 16");
    expect_bad("-1xT4", "unknown model");
    const struct sim_model *m[4];
    char err[256];
    assert_int_equal(sim_gpus_parse("3xT4", m, 2, err, sizeof(err)), -EINVAL);
    assert_int_equal(sim_gpus_parse(NULL, m, 2, err, sizeof(err)), -EINVAL);
    assert_int_equal(sim_gpus_parse("Foo", m, 2, err, 8), -EINVAL); /* truncates safely */
    assert_true(strlen(err) < 8);
}

static void *make_image(size_t *len)
{
    const struct sim_model *m[2] = {sim_model_find("T4"), sim_model_find("H100-80GB")};
    uint64_t size = sim_state_layout(2, 4, 8, NULL, NULL, NULL);
    void *buf = aligned_alloc(64, size);
    assert_non_null(buf);
    memset(buf, 0, size);
    assert_int_equal(sim_state_format(buf, size, "unit", m, 2, 4, 8), 0);
    *len = size;
    return buf;
}

static void test_state_image(void **state)
{
    (void)state;
    size_t len;
    char err[512];
    char *img = make_image(&len);
    assert_int_equal(sim_state_validate(img, len, err, sizeof(err)), 0);
    /* Unaligned copies validate the same. */
    char *shifted = malloc(len + 1);
    memcpy(shifted + 1, img, len);
    assert_int_equal(sim_state_validate(shifted + 1, len, err, sizeof(err)), 0);
    free(shifted);
    assert_int_equal(sim_state_validate(img, len - 1, err, sizeof(err)), -EINVAL);
    assert_int_equal(sim_state_validate(img, 10, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "too short"));

    uint64_t rec_off, slot_off, dev_off;
    struct sim_state_hdr *h = (struct sim_state_hdr *)img;
    sim_state_layout(2, 4, 8, &dev_off, &slot_off, &rec_off);
    struct sim_state_rec *recs = (struct sim_state_rec *)(img + rec_off);
    struct sim_state_slot *slots = (struct sim_state_slot *)(img + slot_off);
    slots[1].state = SIM_SLOT_LIVE;
    recs[0] = (struct sim_state_rec){.offset = 0, .size = 8192, .state = SIM_REC_LIVE,
                                     .kind = SIM_CHARGE_MEMORY, .owner = 1};
    recs[1] = (struct sim_state_rec){.offset = 4096, .size = 4096, .state = SIM_REC_LIVE,
                                     .kind = SIM_CHARGE_MEMORY, .owner = 1};
    /* Records past the bound are refused, then the overlap is. */
    assert_int_equal(sim_state_validate(img, len, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "bound"));
    uint32_t *nrec_used = (uint32_t *)(img + dev_off + offsetof(struct sim_state_dev, nrec_used));
    *nrec_used = 2;
    assert_int_equal(sim_state_validate(img, len, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "overlap"));
    recs[1].offset = 8192;
    assert_int_equal(sim_state_validate(img, len, err, sizeof(err)), 0);
    recs[1].offset = (15360ull << 20) - 4096 + 4096; /* past the T4's end */
    assert_int_equal(sim_state_validate(img, len, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "outside"));
    recs[1].offset = 8192;
    recs[1].owner = 4;
    assert_int_equal(sim_state_validate(img, len, err, sizeof(err)), -EINVAL);
    recs[1].owner = 1;
    h->version = 7;
    assert_int_equal(sim_state_validate(img, len, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "version 7"));
    h->version = SIM_STATE_VERSION;
    h->instance[0] = '.';
    assert_int_equal(sim_state_validate(img, len, err, sizeof(err)), -EINVAL);
    h->instance[0] = 'u';
    assert_int_equal(sim_state_validate(img, len, err, sizeof(err)), 0);
    free(img);
    assert_int_equal(sim_state_validate(NULL, 0, err, sizeof(err)), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_lookup),
        cmocka_unit_test(test_model_table_sane),
        cmocka_unit_test(test_gpus_parse_ok),
        cmocka_unit_test(test_gpus_parse_errors),
        cmocka_unit_test(test_state_image),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
