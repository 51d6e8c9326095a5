# Samples a process's threads every ~1 ms until stdin closes: per sample, for each thread,
# state, wchan, schedstat (on-CPU ns, run-queue ns); the main thread's kernel stack when asleep.
import os, sys, time, json, threading
pid = int(sys.argv[1]); out = open(sys.argv[2], 'w')
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
def rd(p):
    try:
        with open(p) as f: return f.read()
    except OSError: return None
while not stop.is_set():
    t = time.time()
    rows = {}
    try: tids = os.listdir(f'/proc/{pid}/task')
    except OSError: break
    for tid in tids:
        st = rd(f'/proc/{pid}/task/{tid}/stat')
        if st is None: continue
        rp = st.rindex(')')
        name = st[st.index('(')+1:rp]; state = st[rp+2]
        fields = st[rp+2:].split()
        prio = fields[15]; policy = fields[38] if len(fields) > 38 else '?'
        ss = (rd(f'/proc/{pid}/task/{tid}/schedstat') or '0 0 0').split()
        row = [name, state, rd(f'/proc/{pid}/task/{tid}/wchan') or '', int(ss[0]), int(ss[1]), prio, policy]
        if tid == str(pid) and state in 'SD':
            row.append((rd(f'/proc/{pid}/task/{tid}/stack') or '').replace('\n', ' | '))
        rows[tid] = row
    out.write(json.dumps([t, rows]) + '\n')
    time.sleep(0.001)
out.close()
