// Open MPI (Debian's libopenmpi-dev) for Swift. MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM … are
// macros over addresses of Open MPI's globals, which Swift cannot import; these inline
// functions hand them over as values.
#ifndef LLAVA_CMPI_SHIM_H
#define LLAVA_CMPI_SHIM_H
#include <mpi.h>

static inline MPI_Comm llava_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype llava_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype llava_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype llava_mpi_int32(void) { return MPI_INT32_T; }
static inline MPI_Datatype llava_mpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Datatype llava_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Op llava_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op llava_mpi_max(void) { return MPI_MAX; }
static inline void *llava_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Errhandler llava_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
#endif
