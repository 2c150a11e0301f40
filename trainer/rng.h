/* rng: the trainer's seeded random numbers (xoshiro256** seeded through splitmix64), so a
 * seed gives the same numbers on every machine and thread count. */
#ifndef TR_RNG_H
#define TR_RNG_H

#include <stdint.h>

struct rng {
    uint64_t s[4];
};

void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_next_u64(struct rng *r);
/** Returns a float uniform in [0, 1) with 24 random bits. */
float rng_uniform(struct rng *r);
/** Returns a double uniform in [0, 1) with 53 random bits. */
double rng_uniform_double(struct rng *r);
/** Returns a standard normal sample (Box-Muller). */
float rng_normal(struct rng *r);

#endif
