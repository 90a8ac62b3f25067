/*
 * gpool: one binary, one subcommand per file, dispatched from this table.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#ifndef GPOOL_VERSION
#define GPOOL_VERSION "0.1.0"
#endif

struct subcommand {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *description;
};

static const struct subcommand subcommands[] = {
    {"sim", cli_sim_main, "Lists and removes simulated GPU instances (gpool sim ls|reset)"},
    {"vgpu", cli_vgpu_main, "Manages local vGPU ledgers (gpool vgpu create|show|set|reap)"},
    {"version", cli_version_main, "Prints gpool's version"},
};

static void usage(FILE *out)
{
    fprintf(out, "Usage: gpool <command> [arguments]\n\n"
                 "gpool pools GPUs and lets any CUDA program use a fraction of one.\n\n"
                 "Commands:\n");
    for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
        fprintf(out, "  %-10s %s\n", subcommands[i].name, subcommands[i].description);
    fprintf(out, "\nRun 'gpool <command> --help' for a command's options.\n");
}

int cli_version_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("gpool %s\n", GPOOL_VERSION);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version"))
        return cli_version_main(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
        if (!strcmp(argv[1], subcommands[i].name))
            return subcommands[i].main(argc - 1, argv + 1);
    }
    fprintf(stderr, "gpool: unknown command \"%s\"\n\n", argv[1]);
    usage(stderr);
    return 2;
}
