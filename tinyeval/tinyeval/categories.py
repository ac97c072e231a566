"""Subject -> category tables for C-Eval, CMMLU and MMLU, as each benchmark's own code defines them.

* C-Eval: ``subject_mapping.json`` of hkust-nlp/ceval (cba65ae), field 3 — STEM / Social Science /
  Humanities / Other (中文：STEM / 社会科学 / 人文 / 其他). ``CEVAL_HARD`` is C-Eval Hard (the 8
  subjects of the paper's Table 1).
* CMMLU: ``src/categories.py`` of haonan-li/CMMLU (d6e7b71): a subject belongs to every category
  that lists one of its sub-categories, so "China specific" subjects count twice (e.g.
  ancient_chinese is Social Science and China specific), as CMMLU's own evaluation counts them.
* MMLU: ``categories.py`` of hendrycks/test (4450500): STEM / humanities / social sciences /
  other (business, health, misc.).

    >>> categories_of("ceval", "college_physics"), categories_of("cmmlu", "ancient_chinese")
    (('STEM',), ('Social Science', 'China specific'))
    >>> categories_of("mmlu", "virology"), categories_of("gsm8k", "x")
    (('other (business, health, misc.)',), ())

Limits: tables for these three benchmarks only; any other task gets no category breakdown.
"""

from __future__ import annotations

CATEGORY_ZH = {"STEM": "STEM", "Social Science": "社会科学", "Humanities": "人文", "Other": "其他"}
CEVAL_HARD = (
    "advanced_mathematics", "discrete_mathematics", "probability_and_statistics",
    "college_chemistry", "college_physics", "high_school_mathematics", "high_school_chemistry",
    "high_school_physics",
)  # fmt: skip

CEVAL: dict[str, str] = {
    "accountant": "Other",
    "advanced_mathematics": "STEM",
    "art_studies": "Humanities",
    "basic_medicine": "Other",
    "business_administration": "Social Science",
    "chinese_language_and_literature": "Humanities",
    "civil_servant": "Other",
    "clinical_medicine": "Other",
    "college_chemistry": "STEM",
    "college_economics": "Social Science",
    "college_physics": "STEM",
    "college_programming": "STEM",
    "computer_architecture": "STEM",
    "computer_network": "STEM",
    "discrete_mathematics": "STEM",
    "education_science": "Social Science",
    "electrical_engineer": "STEM",
    "environmental_impact_assessment_engineer": "Other",
    "fire_engineer": "Other",
    "high_school_biology": "STEM",
    "high_school_chemistry": "STEM",
    "high_school_chinese": "Humanities",
    "high_school_geography": "Social Science",
    "high_school_history": "Humanities",
    "high_school_mathematics": "STEM",
    "high_school_physics": "STEM",
    "high_school_politics": "Social Science",
    "ideological_and_moral_cultivation": "Humanities",
    "law": "Humanities",
    "legal_professional": "Humanities",
    "logic": "Humanities",
    "mao_zedong_thought": "Social Science",
    "marxism": "Social Science",
    "metrology_engineer": "STEM",
    "middle_school_biology": "STEM",
    "middle_school_chemistry": "STEM",
    "middle_school_geography": "Social Science",
    "middle_school_history": "Humanities",
    "middle_school_mathematics": "STEM",
    "middle_school_physics": "STEM",
    "middle_school_politics": "Social Science",
    "modern_chinese_history": "Humanities",
    "operating_system": "STEM",
    "physician": "Other",
    "plant_protection": "Other",
    "probability_and_statistics": "STEM",
    "professional_tour_guide": "Humanities",
    "sports_science": "Other",
    "tax_accountant": "Other",
    "teacher_qualification": "Social Science",
    "urban_and_rural_planner": "Other",
    "veterinary_medicine": "STEM",
}

CMMLU: dict[str, tuple[str, ...]] = {
    "agronomy": ("Other",),
    "anatomy": ("STEM",),
    "ancient_chinese": (
        "Social Science",
        "China specific",
    ),
    "arts": ("Humanities",),
    "astronomy": ("STEM",),
    "business_ethics": ("Social Science",),
    "chinese_civil_service_exam": (
        "Social Science",
        "China specific",
    ),
    "chinese_driving_rule": (
        "Other",
        "China specific",
    ),
    "chinese_food_culture": (
        "Social Science",
        "China specific",
    ),
    "chinese_foreign_policy": (
        "Social Science",
        "China specific",
    ),
    "chinese_history": (
        "Humanities",
        "China specific",
    ),
    "chinese_literature": (
        "Humanities",
        "China specific",
    ),
    "chinese_teacher_qualification": (
        "Social Science",
        "China specific",
    ),
    "clinical_knowledge": ("Other",),
    "college_actuarial_science": ("STEM",),
    "college_education": ("Social Science",),
    "college_engineering_hydrology": ("STEM",),
    "college_law": ("Humanities",),
    "college_mathematics": ("STEM",),
    "college_medical_statistics": ("STEM",),
    "college_medicine": ("Other",),
    "computer_science": ("STEM",),
    "computer_security": ("Other",),
    "conceptual_physics": ("STEM",),
    "construction_project_management": (
        "Other",
        "China specific",
    ),
    "economics": ("Social Science",),
    "education": ("Social Science",),
    "electrical_engineering": ("STEM",),
    "elementary_chinese": (
        "Social Science",
        "China specific",
    ),
    "elementary_commonsense": (
        "Other",
        "China specific",
    ),
    "elementary_information_and_technology": ("Other",),
    "elementary_mathematics": ("STEM",),
    "ethnology": (
        "Social Science",
        "China specific",
    ),
    "food_science": ("Other",),
    "genetics": ("STEM",),
    "global_facts": ("Humanities",),
    "high_school_biology": ("STEM",),
    "high_school_chemistry": ("STEM",),
    "high_school_geography": ("Social Science",),
    "high_school_mathematics": ("STEM",),
    "high_school_physics": ("STEM",),
    "high_school_politics": (
        "Social Science",
        "China specific",
    ),
    "human_sexuality": ("Other",),
    "international_law": ("Humanities",),
    "journalism": ("Social Science",),
    "jurisprudence": ("Humanities",),
    "legal_and_moral_basis": ("Other",),
    "logical": ("Humanities",),
    "machine_learning": ("STEM",),
    "management": ("Social Science",),
    "marketing": ("Social Science",),
    "marxist_theory": ("Humanities",),
    "modern_chinese": (
        "Social Science",
        "China specific",
    ),
    "nutrition": ("Other",),
    "philosophy": ("Humanities",),
    "professional_accounting": ("Social Science",),
    "professional_law": ("Humanities",),
    "professional_medicine": ("Other",),
    "professional_psychology": ("Social Science",),
    "public_relations": ("Social Science",),
    "security_study": ("Social Science",),
    "sociology": ("Social Science",),
    "sports_science": ("Other",),
    "traditional_chinese_medicine": (
        "Other",
        "China specific",
    ),
    "virology": ("STEM",),
    "world_history": ("Humanities",),
    "world_religions": ("Humanities",),
}

MMLU: dict[str, str] = {
    "abstract_algebra": "STEM",
    "anatomy": "other (business, health, misc.)",
    "astronomy": "STEM",
    "business_ethics": "other (business, health, misc.)",
    "clinical_knowledge": "other (business, health, misc.)",
    "college_biology": "STEM",
    "college_chemistry": "STEM",
    "college_computer_science": "STEM",
    "college_mathematics": "STEM",
    "college_medicine": "other (business, health, misc.)",
    "college_physics": "STEM",
    "computer_security": "STEM",
    "conceptual_physics": "STEM",
    "econometrics": "social sciences",
    "electrical_engineering": "STEM",
    "elementary_mathematics": "STEM",
    "formal_logic": "humanities",
    "global_facts": "other (business, health, misc.)",
    "high_school_biology": "STEM",
    "high_school_chemistry": "STEM",
    "high_school_computer_science": "STEM",
    "high_school_european_history": "humanities",
    "high_school_geography": "social sciences",
    "high_school_government_and_politics": "social sciences",
    "high_school_macroeconomics": "social sciences",
    "high_school_mathematics": "STEM",
    "high_school_microeconomics": "social sciences",
    "high_school_physics": "STEM",
    "high_school_psychology": "social sciences",
    "high_school_statistics": "STEM",
    "high_school_us_history": "humanities",
    "high_school_world_history": "humanities",
    "human_aging": "other (business, health, misc.)",
    "human_sexuality": "social sciences",
    "international_law": "humanities",
    "jurisprudence": "humanities",
    "logical_fallacies": "humanities",
    "machine_learning": "STEM",
    "management": "other (business, health, misc.)",
    "marketing": "other (business, health, misc.)",
    "medical_genetics": "other (business, health, misc.)",
    "miscellaneous": "other (business, health, misc.)",
    "moral_disputes": "humanities",
    "moral_scenarios": "humanities",
    "nutrition": "other (business, health, misc.)",
    "philosophy": "humanities",
    "prehistory": "humanities",
    "professional_accounting": "other (business, health, misc.)",
    "professional_law": "humanities",
    "professional_medicine": "other (business, health, misc.)",
    "professional_psychology": "social sciences",
    "public_relations": "social sciences",
    "security_studies": "social sciences",
    "sociology": "social sciences",
    "us_foreign_policy": "social sciences",
    "virology": "other (business, health, misc.)",
    "world_religions": "humanities",
}


def categories_of(benchmark: str, subject: str) -> tuple[str, ...]:
    """The categories ``subject`` counts in for ``benchmark`` (``ceval``/``cmmlu``/``mmlu``)."""
    if benchmark.startswith("ceval"):
        return (CEVAL[subject],) if subject in CEVAL else ()
    if benchmark.startswith("cmmlu"):
        return CMMLU.get(subject, ())
    if benchmark.startswith("mmlu"):
        return (MMLU[subject],) if subject in MMLU else ()
    return ()
