"""sha256 pins of the GitHub files that `data fetch` downloads (generated, do not edit by hand).

Each entry: local path (inside the dataset's folder) -> (path in the repo, size in bytes, sha256).
Computed from the pinned commits with `git show COMMIT:PATH | sha256sum`; the files that also sit in
the project's development copy (../shared/data) were checked byte for byte against it.
"""

CRANFIELD = {  # DrDesignX/Simple_IR @ e18aea0dd1761074e1721675f51f251f368cd808
    "cran.all.1400": (
        "cran.all.1400",
        1644706,
        "b234544b6ceccd131520df4a3cb6d42aee6576eb577933d047e722bbfe7b0b09",
    ),
    "cran.qry": (
        "cran.qry",
        28040,
        "bd65642599ac35409bd3941f37c171fb089bc290386863153d708f4394c9f344",
    ),
    "cranqrel": (
        "cranqrel",
        19543,
        "149999bde29b890eb046325222d35afdbea40f652afee17a1f774356cf8e0911",
    ),
    "cranqrel.readme": (
        "cranqrel.readme",
        1449,
        "8f4cb2e60ab2324bb3ad980bdc8b9cf6a9b98a08d097d90a351485dd6e25433f",
    ),
}

VASWANI = {  # terrier-org/pyterrier @ 9230fe5dc85358027ecda53d330a542e41a270cd
    "doc-text.trec": (
        "tests/fixtures/vaswani_npl/corpus/doc-text.trec",
        3494318,
        "117ae7491647cb9725621bad52969a78307de19b1757852a0a2383659a856d36",
    ),
    "qrels": (
        "tests/fixtures/vaswani_npl/qrels",
        24863,
        "1b3ed6a43752c7a7becb0dbd1614d662791bb7825b60182fd36be24d480ea447",
    ),
    "query-text.trec": (
        "tests/fixtures/vaswani_npl/query-text.trec",
        10991,
        "fef998db14818f74a22b2fb2be06425d5fb0dbd83ed9841fa0440e0a5477da7b",
    ),
}

CMRC2018 = {  # ymcui/cmrc2018 @ c0eb1b6ba219847457e6af3180da722bbeb656af
    "cmrc2018_dev.json": (
        "squad-style-data/cmrc2018_dev.json",
        3299139,
        "e9ff74231f05c230c6fa88b84441ee334d97234cbb610991cd94b82db00c7f1f",
    ),
    "cmrc2018_trial.json": (
        "squad-style-data/cmrc2018_trial.json",
        800221,
        "f3fae95b57da8e03afb2b57467dd221417060ef4d82db13bf22fc88589f3a6f3",
    ),
}
