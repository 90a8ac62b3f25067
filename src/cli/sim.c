/* gpool sim ls|reset: written by the shared-state owner. */
#include "cli.h"
#include <stdio.h>
int cli_sim_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "gpool sim: not built yet\n");
    return 1;
}
