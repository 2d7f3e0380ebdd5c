#!/usr/bin/env python3
"""Generates a labelled payment data set with realistic fraud patterns, trains Payrail's
logistic-regression fraud model on it, and writes:

  Sources/PayrailDomain/Risk/RiskModel+Trained.swift   the model (committed; Swift does inference)
  Tests/PayrailDomainTests/Fixtures/fraud-holdout.csv  held-out features + this script's scores
                                                       (the Swift test must match them to 1e-6)
  docs/fraud.md (between the METRICS markers)          AUC, precision and recall on the held-out set

Patterns: legitimate customers (home country, one or two cards, their own device and IP, amounts
around the merchant's usual); card testing (one IP and device, bursts of new cards, small
amounts, mostly declined); stolen cards used from another country (new device, foreign IP,
billing mismatch, large amounts, several uses an hour); account takeover (a known email from a
new device and country, adding cards, large amounts).

Usage: python3 scripts/fraud/train.py [--seed 7] [--rows 40000]   (needs numpy)
"""
import argparse
import collections
import math
import os
import random

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Card velocity is left to rules: test cards are shared by every integration, so counts per card
# mean little in test mode and would swamp the model there.
FEATURES = [
    "log_amount", "log_amount_ratio",
    "log_ip_count_1h", "log_ip_distinct_cards_1h", "log_ip_declines_1h", "log_device_distinct_cards_24h",
    "log_email_distinct_cards_24h", "ip_country_mismatch", "billing_country_mismatch", "first_seen_card",
]
COUNTRIES = ["US", "CA", "GB", "DE", "IN", "BR", "FR", "NL", "ES", "IT", "AU", "JP", "NG"]
MINUTE, HOUR, DAY = 60_000, 3_600_000, 86_400_000


class Windows:
    """Exact sliding-window counts of prior events per key (what the core approximates)."""

    def __init__(self):
        self.events = collections.defaultdict(collections.deque)  # key -> deque[(t, card, declined)]

    def _trim(self, key, now):
        q = self.events[key]
        while q and q[0][0] <= now - DAY:
            q.popleft()
        return q

    def count(self, key, now, window):
        return sum(1 for t, _, _ in self._trim(key, now) if t > now - window)

    def distinct_cards(self, key, now, window):
        return len({c for t, c, _ in self._trim(key, now) if t > now - window})

    def declines(self, key, now, window):
        return sum(1 for t, _, d in self._trim(key, now) if t > now - window and d)

    def add(self, key, now, card, declined):
        self.events[key].append((now, card, declined))


def generate(rows, rng):
    merchants = [math.exp(rng.gauss(math.log(4000), 0.8)) for _ in range(25)]
    customers = []
    for i in range(4000):
        home = rng.choice(COUNTRIES)
        cards = [(f"card-{i}-{k}", home if rng.random() < 0.95 else rng.choice(COUNTRIES)) for k in range(rng.choice([1, 1, 1, 2]))]
        # A third browse from a carrier-grade NAT or office IP shared with many other customers.
        ip = f"ip-shared-{home}-{rng.randrange(15)}" if rng.random() < 0.35 else f"ip-{i}"
        customers.append({"home": home, "cards": cards, "device": f"dev-{i}", "ip_country": home, "email": f"email-{i}",
                          "merchant": rng.randrange(len(merchants)), "ip": ip})
    events = []  # (t, kind, payload)
    span = 3 * DAY
    # Legitimate purchases.
    for _ in range(int(rows * 0.86)):
        c = rng.choice(customers)
        card, card_country = rng.choice(c["cards"])
        merchant = c["merchant"] if rng.random() < 0.7 else rng.randrange(len(merchants))
        amount = max(50, int(math.exp(rng.gauss(math.log(merchants[merchant]), 0.6))))
        ip_country = c["ip_country"] if rng.random() < 0.93 else rng.choice(COUNTRIES)  # travel, VPNs
        billing = card_country if rng.random() < 0.97 else rng.choice(COUNTRIES)
        amount = amount if rng.random() < 0.9 else amount * rng.randint(2, 6)  # the occasional big basket
        events.append((rng.randrange(span), dict(card=card, card_country=card_country, ip=c["ip"], ip_country=ip_country,
                                                 device=c["device"], email=c["email"], billing=billing, merchant=merchant,
                                                 amount=amount, declined=rng.random() < 0.05, fraud=0)))
    fraud_budget = rows - len(events)
    attack = 0
    while fraud_budget > 0:
        attack += 1
        kind = rng.random()
        start = rng.randrange(span)
        merchant = rng.randrange(len(merchants))
        if kind < 0.4:  # card testing: fast bursts, or slow and spread over rotating IPs
            slow = rng.random() < 0.35
            device, country = f"dev-tester-{attack}", rng.choice(COUNTRIES)
            n = rng.randint(15, 70)
            t = start
            for k in range(n):
                t += rng.randint(5 * MINUTE, 40 * MINUTE) if slow else rng.randint(500, 15_000)
                ip = f"ip-tester-{attack}-{k // 3}" if slow else f"ip-tester-{attack}"
                card_country = rng.choice(COUNTRIES)
                events.append((t, dict(card=f"test-{attack}-{k}", card_country=card_country, ip=ip, ip_country=country, device=device,
                                       email=f"email-tester-{attack}-{k % 3}", billing=rng.choice([card_country, country]),
                                       merchant=merchant, amount=rng.randint(50, 600), declined=rng.random() < 0.7, fraud=1)))
            fraud_budget -= n
        elif kind < 0.75:  # stolen card, used abroad
            victim = rng.choice(customers)
            card, card_country = rng.choice(victim["cards"])
            # Most thieves are abroad; some use a proxy in the card's own country.
            ip_country = card_country if rng.random() < 0.4 else rng.choice([c for c in COUNTRIES if c != card_country])
            device = f"dev-thief-{attack}"
            n = rng.randint(1, 5)
            t = start
            for _ in range(n):
                t += rng.randint(30_000, 20 * MINUTE)
                events.append((t, dict(card=card, card_country=card_country, ip=f"ip-thief-{attack}", ip_country=ip_country, device=device,
                                       email=f"email-thief-{attack}", billing=ip_country if rng.random() < 0.5 else card_country,
                                       merchant=merchant, amount=int(merchants[merchant] * rng.uniform(0.8, 10)),
                                       declined=rng.random() < 0.25, fraud=1)))
            fraud_budget -= n
        else:  # account takeover: known email, new device and country, new cards
            victim = rng.choice(customers)
            ip_country = rng.choice([c for c in COUNTRIES if c != victim["home"]])
            n = rng.randint(1, 4)
            t = start
            for k in range(n):
                t += rng.randint(60_000, 30 * MINUTE)
                card_country = rng.choice(COUNTRIES)
                events.append((t, dict(card=f"ato-{attack}-{k}", card_country=card_country, ip=f"ip-ato-{attack}", ip_country=ip_country,
                                       device=f"dev-ato-{attack}", email=victim["email"],
                                       billing=victim["home"], merchant=victim["merchant"],
                                       amount=int(merchants[victim["merchant"]] * rng.uniform(1.5, 8)),
                                       declined=rng.random() < 0.2, fraud=1)))
            fraud_budget -= n
    events.sort(key=lambda e: e[0])
    return events


def featurize(events):
    card_w, ip_w, device_w, email_w = Windows(), Windows(), Windows(), Windows()
    merchant_mean = {}
    X, y = [], []
    for t, e in events:
        usual = merchant_mean.get(e["merchant"])
        ratio = e["amount"] / usual if usual else 1.0
        card_24h = card_w.count(e["card"], t, DAY)
        x = [
            math.log1p(e["amount"]),
            math.log(max(ratio, 1e-3)),
            math.log1p(ip_w.count(e["ip"], t, HOUR)),
            math.log1p(ip_w.distinct_cards(e["ip"], t, HOUR)),
            math.log1p(ip_w.declines(e["ip"], t, HOUR)),
            math.log1p(device_w.distinct_cards(e["device"], t, DAY)),
            math.log1p(email_w.distinct_cards(e["email"], t, DAY)),
            1.0 if e["ip_country"] != e["card_country"] else 0.0,
            1.0 if e["billing"] != e["card_country"] else 0.0,
            1.0 if card_24h == 0 else 0.0,
        ]
        X.append(x)
        y.append(e["fraud"])
        for windows, key in ((card_w, e["card"]), (ip_w, e["ip"]), (device_w, e["device"]), (email_w, e["email"])):
            windows.add(key, t, e["card"], e["declined"])
        merchant_mean[e["merchant"]] = e["amount"] if usual is None else 0.98 * usual + 0.02 * e["amount"]
    return np.array(X), np.array(y, dtype=float)


def train(X, y, l2=1e-3, steps=3000, rate=0.5):
    means, scales = X.mean(axis=0), X.std(axis=0)
    scales[scales == 0] = 1.0
    Z = (X - means) / scales
    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(Z @ w + b)))
        w -= rate * (Z.T @ (p - y) / len(y) + l2 * w)
        b -= rate * float(np.mean(p - y))
    return b, w, means, scales


def score(X, b, w, means, scales):
    # The same arithmetic as RiskModel.score: bias + sum of w * (x - mean) / scale, in order.
    out = []
    for row in X:
        z = b
        for i in range(len(w)):
            z += w[i] * (row[i] - means[i]) / scales[i]
        out.append(1 / (1 + math.exp(-z)))
    return np.array(out)


def auc(scores, labels):
    order = np.argsort(scores)
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    positives = labels == 1
    n_pos, n_neg = positives.sum(), (~positives).sum()
    return (ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rows", type=int, default=40_000)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    X, y = featurize(generate(args.rows, rng))
    index = np.arange(len(y))
    np.random.default_rng(args.seed).shuffle(index)
    cut = int(len(y) * 0.7)
    train_i, test_i = index[:cut], index[cut:]
    b, w, means, scales = train(X[train_i], y[train_i])
    test_scores = score(X[test_i], b, w, means, scales)
    version = f"lr-{args.seed}-{args.rows}"
    thresholds = {"review": 0.5, "require_3ds": 0.8, "block": 0.95}

    def fmt(values):
        return ", ".join(repr(float(v)) for v in values)

    with open(os.path.join(ROOT, "Sources/PayrailDomain/Risk/RiskModel+Trained.swift"), "w") as f:
        f.write(f"""// Generated by scripts/fraud/train.py (seed {args.seed}, {args.rows} rows): do not edit.
extension RiskModel {{
    /// The model shipped with Payrail; see docs/fraud.md for how it was trained and how well it does.
    public static let trained = RiskModel(
        version: "{version}",
        bias: {float(b)!r},
        weights: [{fmt(w)}],
        means: [{fmt(means)}],
        scales: [{fmt(scales)}])
}}
""")
    with open(os.path.join(ROOT, "Tests/PayrailDomainTests/Fixtures/fraud-holdout.csv"), "w") as f:
        f.write(",".join(FEATURES + ["label", "score"]) + "\n")
        for row, label, s in list(zip(X[test_i], y[test_i], test_scores))[:600]:
            f.write(",".join(repr(float(v)) for v in row) + f",{int(label)},{float(s)!r}\n")

    labels = y[test_i]
    lines = [
        "<!-- METRICS (generated by scripts/fraud/train.py) -->",
        f"Model `{version}`: trained on {len(train_i):,} payments, evaluated on {len(test_i):,} held out "
        f"({int(labels.sum()):,} fraudulent, {labels.mean() * 100:.1f} %).",
        "",
        f"- AUC on the held-out set: **{auc(test_scores, labels):.4f}**",
        "",
        "| score threshold | action | precision | recall | flagged |",
        "|---|---|---|---|---|",
    ]
    for name, t in thresholds.items():
        flagged = test_scores >= t
        tp = float((flagged & (labels == 1)).sum())
        precision = tp / flagged.sum() if flagged.sum() else float("nan")
        recall = tp / labels.sum()
        lines.append(f"| ≥ {t} | {name} | {precision:.3f} | {recall:.3f} | {flagged.mean() * 100:.2f} % |")
    lines.append("")
    lines.append("| feature | weight (standardized) |")
    lines.append("|---|---|")
    for name, weight in sorted(zip(FEATURES, w), key=lambda p: -abs(p[1])):
        lines.append(f"| `{name}` | {weight:+.3f} |")
    lines.append("<!-- /METRICS -->")
    path = os.path.join(ROOT, "docs/fraud.md")
    text = open(path).read() if os.path.exists(path) else "<!-- METRICS --><!-- /METRICS -->"
    start, end = text.index("<!-- METRICS"), text.index("<!-- /METRICS -->") + len("<!-- /METRICS -->")
    with open(path, "w") as f:
        f.write(text[:start] + "\n".join(lines) + text[end:])
    print("\n".join(lines))


if __name__ == "__main__":
    main()
