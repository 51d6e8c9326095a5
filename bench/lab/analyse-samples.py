# Per sample file (one daemon, one reload): the main thread's longest stretch outside
# epoll_wait, what it was doing (on CPU, waiting for one, asleep on what), and the threads
# that came and went with their scheduling.
import json, sys, collections
for path in sys.argv[1:]:
    rows = [json.loads(l) for l in open(path) if l.strip()]
    if not rows: continue
    main = min(rows[0][1], key=int)
    seen = {}
    stretch = []; best = []
    for t, threads in rows:
        m = threads.get(main)
        if m is None: continue
        for tid, r in threads.items():
            if tid not in seen: seen[tid] = (t, r[5], r[6])
        idle = m[1] == 'S' and m[2] == 'do_epoll_wait'
        if idle:
            if len(stretch) > len(best): best = stretch
            stretch = []
        else: stretch.append((t, m, threads))
    if len(stretch) > len(best): best = stretch
    t0 = rows[0][0]
    print(f'{path}: {len(rows)} samples over {1000*(rows[-1][0]-t0):.0f} ms; threads at start {len(rows[0][1])}')
    new = [(tid, 1000*(t-t0), p, pol) for tid, (t, p, pol) in seen.items() if tid not in rows[0][1]]
    for tid, at, p, pol in new:
        last = max((1000*(t-t0), r[5], r[6]) for t, th in rows for ttid, r in th.items() if ttid == tid)
        print(f'  new thread {tid} at {at:.0f} ms prio {p} policy {pol}; last seen {last[0]:.0f} ms prio {last[1]} policy {last[2]}')
    if not best: print('  main always idle'); continue
    a, b = best[0], best[-1]
    dur = 1000*(b[0]-a[0])
    oncpu = (b[1][3]-a[1][3])/1e6; wait = (b[1][4]-a[1][4])/1e6
    states = collections.Counter(f'{m[1]}:{m[2]}' for _, m, _ in best)
    print(f'  main longest out of epoll: {dur:.0f} ms from {1000*(a[0]-t0):.0f} ms ({len(best)} samples): on CPU {oncpu:.1f} ms, run-queue {wait:.1f} ms; states {dict(states.most_common(6))}')
    stacks = collections.Counter(m[7].split(' | ')[0:4].__str__() for _, m, _ in best if len(m) > 7)
    for s, n in stacks.most_common(3): print(f'    {n}x {s}')
    # what the other threads were doing while main slept off-epoll
    others = collections.Counter()
    for _, m, th in best:
        if m[1] in 'SD':
            for tid, r in th.items():
                if tid != main and r[1] in 'RD': others[f'{tid}:{r[1]}:{r[2]}:prio{r[5]}']+=1
    if others: print(f'    others running/blocked meanwhile: {dict(others.most_common(6))}')
