"""Write a small real table with partial labels, for the data=table worked example.

    python examples/diabetes_table.py diabetes.csv

scikit-learn's bundled diabetes study (442 patients, no download): age, sex, BMI, blood
pressure and four blood serum measurements are the features; three yes/no outcomes
are the tasks: disease progression after one year above the median, and the two
remaining serum measurements (s5, log triglycerides; s6, blood sugar) above their
medians. A random 30% of the label cells are left empty ("?"), as when not every
outcome was recorded for every patient.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from sklearn.datasets import load_diabetes


def main(path: str) -> None:
    frame = load_diabetes(as_frame=True, scaled=False).frame
    labels = {
        "progression": frame["target"] > frame["target"].median(),
        "high_ltg": frame["s5"] > frame["s5"].median(),
        "high_glucose": frame["s6"] > frame["s6"].median(),
    }
    table = frame.drop(columns=["target", "s5", "s6"])
    rng = np.random.default_rng(0)
    for name, values in labels.items():
        cells = np.where(values, "yes", "no").astype(object)
        cells[rng.random(len(cells)) < 0.3] = ""
        table[name] = cells
    Path(path).parent.mkdir(parents=True, exist_ok=True)  # the README writes into outputs/
    table.to_csv(path, index=False)
    print(f"wrote {path}: {len(table)} rows, features {', '.join(table.columns[:-3])}, labels {', '.join(labels)}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "diabetes.csv")
