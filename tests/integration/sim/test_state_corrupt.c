/*
 * Attach refuses, with a reason and the remedy, a state file that is corrupt or of an unknown
 * layout version, a GPOOL_SIM_GPUS that differs from the existing instance, a bad device list
 * and a bad instance name.
 */
#include "sim_test_util.h"

#include <fcntl.h>

static char *image;
static size_t image_len;

static void save_image(void)
{
    char path[PATH_MAX];
    util_path(path, sizeof(path), "state");
    FILE *f = fopen(path, "rb");
    REQUIRE(f, "open %s", path);
    fseek(f, 0, SEEK_END);
    image_len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    image = malloc(image_len);
    size_t got = fread(image, 1, image_len, f);
    REQUIRE(image && got == image_len, "read state");
    fclose(f);
}

/* Writes the saved image with `len` bytes and one patch applied. */
static void write_image(size_t len, size_t patch_at, const void *patch, size_t patch_len)
{
    char path[PATH_MAX];
    util_path(path, sizeof(path), "state");
    int fd = open(path, O_WRONLY | O_TRUNC);
    REQUIRE(fd >= 0, "open %s", path);
    ssize_t n = write(fd, image, len);
    REQUIRE(n == (ssize_t)len, "write state");
    if (patch) {
        n = pwrite(fd, patch, patch_len, (off_t)patch_at);
        REQUIRE(n == (ssize_t)patch_len, "patch state");
    }
    close(fd);
}

/* Attach must fail with want and mention every one of the words. */
static void expect_refused(const char *what, int want, const char *w1, const char *w2)
{
    struct sim_instance *inst = NULL;
    char err[1024] = "";
    int rc = sim_instance_attach(&inst, err, sizeof(err));
    CHECK(rc == want, "%s: attach returned %d, expected %d (%s)", what, rc, want, err);
    CHECK(inst == NULL, "%s: attach returned an instance", what);
    CHECK(strstr(err, w1) != NULL, "%s: message lacks \"%s\": %s", what, w1, err);
    CHECK(!w2 || strstr(err, w2) != NULL, "%s: message lacks \"%s\": %s", what, w2, err);
    if (rc == 0)
        sim_instance_detach(inst);
}

int main(void)
{
    struct sim_instance *inst = util_attach();
    sim_instance_detach(inst);
    save_image();

    struct sim_state_hdr hdr;
    memcpy(&hdr, image, sizeof(hdr));
    uint64_t rec_off;
    sim_state_layout(hdr.ndev, hdr.nslots, hdr.nrecs, NULL, NULL, &rec_off);

    uint64_t bad_magic = 0x1122334455667788ull;
    write_image(image_len, 0, &bad_magic, sizeof(bad_magic));
    expect_refused("bad magic", -EINVAL, "magic", "gpool sim reset");

    uint32_t version = 99;
    write_image(image_len, offsetof(struct sim_state_hdr, version), &version, sizeof(version));
    expect_refused("unknown version", -EINVAL, "version 99", "gpool sim reset");

    write_image(100, 0, NULL, 0);
    expect_refused("truncated", -EINVAL, "too short", "gpool sim reset");

    write_image(image_len / 2, 0, NULL, 0);
    expect_refused("half", -EINVAL, "size", "gpool sim reset");

    uint32_t ndev = 0;
    write_image(image_len, offsetof(struct sim_state_hdr, ndev), &ndev, sizeof(ndev));
    expect_refused("no devices", -EINVAL, "devices", NULL);

    struct sim_state_rec rec = {.offset = 3, .size = 4096, .state = SIM_REC_LIVE,
                                .kind = SIM_CHARGE_MEMORY, .owner = 0};
    write_image(image_len, rec_off, &rec, sizeof(rec));
    expect_refused("bad record", -EINVAL, "corrupt", "record 0");

    rec.offset = 0;
    rec.state = 9;
    write_image(image_len, rec_off, &rec, sizeof(rec));
    expect_refused("bad record state", -EINVAL, "bad state 9", NULL);

    /* Restored, the instance works again. */
    write_image(image_len, 0, NULL, 0);
    inst = util_attach();
    util_check_state(inst, "after restoring the state file");
    sim_instance_detach(inst);

    /* A different device list is refused with the remedy; no list takes what is there. */
    setenv("GPOOL_SIM_GPUS", "2xT4", 1);
    expect_refused("GPOOL_SIM_GPUS mismatch", -EEXIST, "T4,T4", "gpool sim reset");
    unsetenv("GPOOL_SIM_GPUS");
    inst = util_attach();
    CHECK(sim_instance_device_count(inst) == 1 &&
              !strcmp(sim_instance_model(inst, 0)->alias, "H100-80GB"),
          "unset GPOOL_SIM_GPUS did not take the existing instance");
    sim_instance_detach(inst);

    setenv("GPOOL_SIM_GPUS", "H100-80GB,Foo", 1);
    expect_refused("unknown model", -EINVAL, "\"Foo\"", "A100-40GB");
    setenv("GPOOL_SIM_GPUS", "17xT4", 1);
    expect_refused("too many", -EINVAL, "17", NULL);
    setenv("GPOOL_SIM_GPUS", "H100-80GB", 1);
    setenv("GPOOL_SIM_INSTANCE", "../escape", 1);
    expect_refused("bad instance name", -EINVAL, "GPOOL_SIM_INSTANCE", "../escape");

    free(image);
    return check_done("sim-state-corrupt");
}
