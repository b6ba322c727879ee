"""Character and word error rates of OCR output against ground truth.
Usage: python score.py TRUTH_DIR RESULT_DIR [RESULT_DIR…]
Each result dir holds NAME.txt for every NAME.txt in TRUTH_DIR. Whitespace is normalized (runs
become one space) before comparing; CER = edit distance over characters / reference characters,
WER = edit distance over words / reference words, summed over the set, and per variant."""
import collections
import os
import sys


def distance(a, b):
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def normalize(text):
    return " ".join(text.split())


def main():
    truth_dir, results = sys.argv[1], sys.argv[2:]
    names = sorted(n[:-4] for n in os.listdir(truth_dir) if n.endswith(".txt"))
    print(f"{'variant':<12}" + "".join(f"{os.path.basename(r) + ' CER':>16}{os.path.basename(r) + ' WER':>16}" for r in results))
    totals = {r: collections.defaultdict(lambda: [0, 0, 0, 0]) for r in results}
    for name in names:
        variant = name.rsplit("-", 1)[1]
        reference = normalize(open(os.path.join(truth_dir, name + ".txt"), encoding="utf-8").read())
        for result in results:
            path = os.path.join(result, name + ".txt")
            found = normalize(open(path, encoding="utf-8").read()) if os.path.exists(path) else ""
            for key in (variant, "all"):
                t = totals[result][key]
                t[0] += distance(reference, found)
                t[1] += len(reference)
                t[2] += distance(reference.split(), found.split())
                t[3] += len(reference.split())
    for variant in ["clean", "noise", "blur", "rotate", "lowcontrast", "all"]:
        row = f"{variant:<12}"
        for result in results:
            c, n, w, m = totals[result][variant]
            row += f"{c / max(n, 1):>16.4f}{w / max(m, 1):>16.4f}"
        print(row)


main()
