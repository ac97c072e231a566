"""The retrieval test collections ``python -m tinyrag eval --dataset NAME`` reads, and their sources.

    $ python -m tinyrag data fetch cranfield       # -> ~/.cache/tiny-universe/data/cranfield/
    $ python -m tinyrag eval --dataset cranfield --stem

Fetched by :mod:`tinyqwen.data_cache` from the GitHub commits below, every file checked against
the size and sha256 pinned in ``tinyrag/data_pins.py``; the files are kept as they are (the
readers in ``tinyrag/datasets.py`` parse the original formats).

| name      | folder          | files                                             | from |
|-----------|-----------------|---------------------------------------------------|------|
| cranfield | ``cranfield/``  | cran.all.1400, cran.qry, cranqrel, cranqrel.readme | DrDesignX/Simple_IR (Glasgow distribution) |
| vaswani   | ``vaswani_npl/``| doc-text.trec, query-text.trec, qrels              | terrier-org/pyterrier test fixtures |
| cmrc2018  | ``cmrc2018/``   | cmrc2018_trial.json, cmrc2018_dev.json (SQuAD layout) | ymcui/cmrc2018 |
"""

from __future__ import annotations

from tinyqwen.data_cache import DatasetSpec, Source
from tinyrag.data_pins import CMRC2018, CRANFIELD, VASWANI

DATASETS = (
    DatasetSpec(
        name="cranfield",
        folder="cranfield",
        about="Cranfield 1400: aerodynamics abstracts, 225 judged queries (en)",
        size="1.7 MB",
        license="free research collection (no formal licence)",
        sources=(
            Source(
                "github",
                "DrDesignX/Simple_IR",
                "e18aea0dd1761074e1721675f51f251f368cd808",
                pins=CRANFIELD,
            ),
        ),
    ),
    DatasetSpec(
        name="vaswani",
        folder="vaswani_npl",
        about="Vaswani/NPL: 11,429 physics abstracts, 93 judged queries (en, TREC format)",
        size="3.5 MB",
        license="free research collection (no formal licence)",
        sources=(
            Source(
                "github",
                "terrier-org/pyterrier",
                "9230fe5dc85358027ecda53d330a542e41a270cd",
                pins=VASWANI,
            ),
        ),
    ),
    DatasetSpec(
        name="cmrc2018",
        folder="cmrc2018",
        about="CMRC 2018: zh Wikipedia span QA (trial 1,002 q / dev 3,219 q), SQuAD layout",
        size="4.1 MB",
        license="CC BY-SA 4.0",
        sources=(
            Source(
                "github",
                "ymcui/cmrc2018",
                "c0eb1b6ba219847457e6af3180da722bbeb656af",
                pins=CMRC2018,
            ),
        ),
    ),
)
