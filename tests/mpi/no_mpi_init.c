/* no_mpi_init.c - proof that a command starts no MPI: LD_PRELOADed, any
 * MPI_Init or MPI_Init_thread says so on stderr and exits 99 at once,
 * before the MPI library is asked anything.  test_mpi.sh: `python-mpi
 * --version` must not notice it; `python-mpi -c pass` must (the control). */
#include <stdio.h>
#include <unistd.h>

static int refuse(void)
{
    static const char msg[] = "no_mpi_init: MPI initialised\n";
    if (write(2, msg, sizeof msg - 1) < 0)
        _exit(98);
    _exit(99);
}

int MPI_Init(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return refuse();
}

int MPI_Init_thread(int *argc, char ***argv, int required, int *provided)
{
    (void)argc;
    (void)argv;
    (void)required;
    (void)provided;
    return refuse();
}
