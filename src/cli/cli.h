/*
 * The gpool command's subcommands. Each lives in its own file and has the signature of
 * main(): argv[0] is the subcommand's name. They return a process exit status.
 */
#ifndef GPOOL_CLI_H
#define GPOOL_CLI_H

int cli_sim_main(int argc, char **argv);
int cli_vgpu_main(int argc, char **argv);
int cli_version_main(int argc, char **argv);

#endif
