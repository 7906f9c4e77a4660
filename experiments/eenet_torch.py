#!/usr/bin/python3
"""PyTorch yardstick for experiments/bench-eenet.ts: EENet's training epoch at the configuration of our
policies/eenet/ (DEFAULT_EENET_CONFIG: batch 512, Adam lr 5e-3 with coupled weight decay 1e-4 on the active
phase's parameters, phases of 10 epochs q-phase first, heads Linear(d, floor(d/2)) -> sigmoid -> Linear(., 1)
giving logits, softmax across exits, alpha_KL 1e-3, alpha_cost 1e-2, beta 1), written the way the reference code
(git-disl/EENet) writes it: one g_k = Linear(C + 2 + k, 1, bias=False) and one head per exit, the earlier scores
clamp(q_j) detached as features of later exits, loss = BCE weighted by the detached exit probabilities (q-phase)
or KL + budget term (h-phase), and the three terms read back (.item()) every batch, as our trainer monitors them.
Data: the fixture's validation split (N x K x C softmax probabilities and labels, .npy).

Usage: eenet_torch.py PROBS.npy LABELS.npy COSTS(comma-separated ms) BUDGET_MS EPOCHS [threads]
Prints one line: epochs, median wall and CPU (process) ms per epoch, threads."""
import sys, time, warnings
warnings.filterwarnings('ignore', message='reduction: .mean. divides')  # 'mean' over B·K is what our trainer does, on purpose
import numpy as np
import torch

def main():
    probs_path, labels_path, costs, budget, epochs = sys.argv[1], sys.argv[2], [float(x) for x in sys.argv[3].split(',')], float(sys.argv[4]), int(sys.argv[5])
    threads = int(sys.argv[6]) if len(sys.argv) > 6 else 1
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    P = torch.from_numpy(np.load(probs_path).astype(np.float32))  # [N, K, C]
    y = torch.from_numpy(np.load(labels_path).astype(np.int64))
    N, K, C = P.shape
    maxp, arg = P.max(dim=2)
    ent = -(P * torch.log(P.clamp_min(1e-30))).sum(dim=2)
    conf = (1 - ent / np.log(C)).clamp(0, 1)
    base = torch.cat([P, maxp.unsqueeze(2), conf.unsqueeze(2)], dim=2)  # [N, K, C + 2]
    correct = (arg == y.unsqueeze(1)).float()  # [N, K]
    cost = torch.tensor(costs, dtype=torch.float32)

    g = torch.nn.ModuleList()
    heads = torch.nn.ModuleList()
    for k in range(K):
        d = C + 2 + k
        lin = torch.nn.Linear(d, 1, bias=False)
        with torch.no_grad():
            lin.weight.zero_(); lin.weight[0, C] = 1.0
        g.append(lin)
        m = max(1, int(d * 0.5))
        heads.append(torch.nn.Sequential(torch.nn.Linear(d, m), torch.nn.Sigmoid(), torch.nn.Linear(m, 1)))
    opt = {'q': torch.optim.Adam(g.parameters(), lr=5e-3, weight_decay=1e-4),
           'h': torch.optim.Adam(heads.parameters(), lr=5e-3, weight_decay=1e-4)}
    batch, period, a_kl, a_cost = 512, 10, 1e-3, 1e-2
    gen = torch.Generator().manual_seed(1)

    def losses(xb, cb):
        qs, hs, earlier = [], [], []
        for k in range(K):
            f = torch.cat([xb[:, k, :]] + earlier, dim=1) if earlier else xb[:, k, :]
            q = g[k](f)
            qs.append(q)
            hs.append(heads[k](f))
            earlier.append(q.clamp(0, 1).detach())
        Q = torch.cat(qs, dim=1).clamp(0, 1)
        logpi = torch.log_softmax(torch.cat(hs, dim=1), dim=1)
        pi = logpi.exp()
        w = pi.detach() / pi.detach().sum(dim=0, keepdim=True)
        bce = (w * torch.nn.functional.binary_cross_entropy(Q, cb, reduction='none')).sum() / K
        qd = Q.detach()
        rs = qd.sum(dim=1, keepdim=True)
        target = torch.where(rs > 0, qd / rs.clamp_min(1e-30), torch.full_like(qd, 1.0 / K))
        kl = torch.nn.functional.kl_div(logpi, target, reduction='mean')
        cost_loss = ((pi * cost).sum(dim=1).mean() - budget).abs() / budget
        return bce, kl, cost_loss

    times, cpu = [], []
    for epoch in range(epochs):
        t0 = time.perf_counter()
        c0 = time.process_time()
        phase = 'h' if (epoch // period) % 2 == 1 else 'q'
        perm = torch.randperm(N, generator=gen)
        for s in range(0, N, batch):
            idx = perm[s:s + batch]
            bce, kl, cl = losses(base[idx], correct[idx])
            loss = bce if phase == 'q' else a_kl * kl + a_cost * cl
            opt[phase].zero_grad()
            loss.backward()
            opt[phase].step()
            _ = (bce.item(), kl.item(), cl.item())
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    ms = sorted(1000 * t for t in times)
    cms = sorted(1000 * t for t in cpu)
    print(f'pytorch {torch.__version__}: {epochs} epochs, wall median {ms[len(ms) // 2]:.2f} ms per epoch, cpu median {cms[len(cms) // 2]:.2f} ms per epoch, threads {torch.get_num_threads()}, N {N} K {K} C {C}')

if __name__ == '__main__':
    main()
