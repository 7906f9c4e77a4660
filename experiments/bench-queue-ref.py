#!/usr/bin/python3
"""Yardstick for experiments/bench-queue.ts: a plain Python discrete-event loop on a heapq (no numpy), the
same queue as the benchmark's fixed-exit run: Poisson arrivals at rate LAMBDA (jobs/ms), one FIFO server with
deterministic service SERVICE ms, B waiting places, JOBS arrivals, the jobs left at the end drained.
Usage: bench-queue-ref.py JOBS LAMBDA SERVICE B [seed]. Prints jobs/s and the loss ratio."""
import heapq, random, sys, time

def main():
    jobs, lam, service, b = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    rng = random.Random(int(sys.argv[5]) if len(sys.argv) > 5 else 1)
    t0 = time.perf_counter()
    events = [(rng.expovariate(lam), 0)]  # (time, kind): 0 arrival, 1 departure
    waiting = 0; busy = False; arrived = 0; lost = 0; served = 0
    while events:
        now, kind = heapq.heappop(events)
        if kind == 0:
            arrived += 1
            if arrived < jobs:
                heapq.heappush(events, (now + rng.expovariate(lam), 0))
            if not busy:
                busy = True
                heapq.heappush(events, (now + service, 1))
            elif waiting < b:
                waiting += 1
            else:
                lost += 1
        else:
            served += 1
            if waiting:
                waiting -= 1
                heapq.heappush(events, (now + service, 1))
            else:
                busy = False
    sec = time.perf_counter() - t0
    print(f'heapq loop: {jobs} arrivals in {sec:.2f} s = {jobs / sec:.3g} jobs/s, loss {lost / jobs:.4f}, served {served}')

if __name__ == '__main__':
    main()
