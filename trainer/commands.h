/* Entry points of the atelier subcommands. Each returns the process exit status: 0 on
 * success, 1 when the work failed, 2 for a usage error. main() in server/main.c dispatches. */
#ifndef ATELIER_COMMANDS_H
#define ATELIER_COMMANDS_H

int cmd_serve(int argc, char **argv);    /* server/: the hub daemon */
int cmd_worker(int argc, char **argv);   /* server/: one job, started by the daemon */
int cmd_admin(int argc, char **argv);    /* server/: users, tokens, migrations */
int cmd_tokenize(int argc, char **argv); /* trainer/ */
int cmd_generate(int argc, char **argv); /* trainer/ */
int cmd_train(int argc, char **argv);    /* trainer/ */
int cmd_eval(int argc, char **argv);     /* trainer/ */
int cmd_merge(int argc, char **argv);    /* trainer/ */
int cmd_hook(int argc, char **argv);     /* server/: git hooks of hub repos */

#endif
