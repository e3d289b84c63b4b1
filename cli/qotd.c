/* qotd.c - placeholder until the subcommand lands; replaced by its real file. */
#include "cli.h"

int cmd_qotd(int argc, char **argv)
{
    (void)argc;
    cli_error(argv[0], "not built yet");
    return CLI_EXIT_FAIL;
}
