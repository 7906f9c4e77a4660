"""Write the small torch.save files test/pth.test.ts reads, with PyTorch itself (Debian's python3-torch):

    /usr/bin/python3 test/data/make_pth.py

Values: z[k, n, c] = (n + 1) * (k + 1) * 0.1 * c - 0.3 * k for N=6 samples, K=3 exits, C=4 classes (every value
distinct across (n, k), so the test recomputes each one); labels [0, 1, 2, 3, 3, 1]. The files, in the layouts
the multi-exit reference code writes:

- msdnet-tuple.pth   (softmax probs float32 [K, N, C], targets float32 [N]) — MSDNet's logits_single.pth
- eenet-dict.pth     {"logits": [K tensors float32 [N, C]], "targets": int64 [N]} — a list of per-exit outputs
- logits-f64.pth     one float64 tensor [K, N, C]
- targets-i64.pth    one int64 tensor [N]
- containers.pth     {"t32": f32 [2, 3], "list64": [f64 [2], f64 [2]], "tuple_i64": (i64 [3], i64 [3])}
- strided.pth        z.permute(1, 0, 2): an [N, K, C] view of [K, N, C] storage (non-contiguous strides)
- offset.pth         z[1]: a view starting at a storage offset
- protocol4.pth      the eenet-dict object saved with pickle_protocol=4
- bad-os-system.pth  a pickle whose object reduces to os.system("echo owned") (must be rejected, never run)
- bad-float16.pth    a float16 tensor (unsupported dtype)
- bad-shapes.pth     [float32 [6, 4], float32 [5, 4]] (cannot be stacked)
"""
import os
import torch

here = os.path.dirname(os.path.abspath(__file__))
N, K, C = 6, 3, 4
n = torch.arange(N, dtype=torch.float64)[None, :, None]
k = torch.arange(K, dtype=torch.float64)[:, None, None]
c = torch.arange(C, dtype=torch.float64)[None, None, :]
z = (n + 1) * (k + 1) * 0.1 * c - 0.3 * k
labels = torch.tensor([0, 1, 2, 3, 3, 1], dtype=torch.int64)


def save(obj, name, **kw):
    torch.save(obj, os.path.join(here, name), **kw)


save((torch.softmax(z, dim=2).float(), labels.float()), "msdnet-tuple.pth")
eenet = {"logits": [z[j].float().clone() for j in range(K)], "targets": labels}
save(eenet, "eenet-dict.pth")
save(z.clone(), "logits-f64.pth")
save(labels.clone(), "targets-i64.pth")
save(
    {
        "t32": torch.arange(6, dtype=torch.float32).reshape(2, 3) / 4,
        "list64": [torch.tensor([0.5, -1.25], dtype=torch.float64), torch.tensor([2.0**60, -3.0], dtype=torch.float64)],
        "tuple_i64": (torch.tensor([1, -2, 3], dtype=torch.int64), torch.tensor([2**53 - 1, 0, -(2**53 - 1)], dtype=torch.int64)),
    },
    "containers.pth",
)
save(z.float().permute(1, 0, 2), "strided.pth")
save(z.float()[1], "offset.pth")
save(eenet, "protocol4.pth", pickle_protocol=4)


class Evil:
    def __reduce__(self):
        return (os.system, ("echo owned",))


save({"logits": Evil()}, "bad-os-system.pth")
save(z.half(), "bad-float16.pth")
save([z[0].float().clone(), z[0, :5].float().clone()], "bad-shapes.pth")
