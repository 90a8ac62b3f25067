/* state.c: written by its owner (see sim.h). */
