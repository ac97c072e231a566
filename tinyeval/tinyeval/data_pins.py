"""sha256 pins of the GitHub files that `data fetch` downloads (generated, do not edit by hand).

Each entry: local path (inside the dataset's folder) -> (path in the repo, size in bytes, sha256).
Computed from the pinned commits with `git show COMMIT:PATH | sha256sum`; the files that also sit in
the project's development copy (../shared/data) were checked byte for byte against it.
"""

CMMLU = {  # haonan-li/CMMLU @ d6e7b716d8ac694f38969a6c0407437d1fded799
    "dev/agronomy.csv": (
        "data/dev/agronomy.csv",
        421,
        "17d0d80683455a4a12259b8c653c951af4ad4cd32ac23615908e9a9e509bb48c",
    ),
    "dev/anatomy.csv": (
        "data/dev/anatomy.csv",
        349,
        "5e2d407357f3ad71d267d615ebdf0dba2ff720548cf504f87026c8e15990d82e",
    ),
    "dev/ancient_chinese.csv": (
        "data/dev/ancient_chinese.csv",
        700,
        "646d4a02d4998f176c111091e5fc23d12ce457ffbd8d2b500d33df06421a2231",
    ),
    "dev/arts.csv": (
        "data/dev/arts.csv",
        388,
        "1604b536191d75d73d944f51f191f97192f94a00c61f8c3c3464c1ac85c40f0b",
    ),
    "dev/astronomy.csv": (
        "data/dev/astronomy.csv",
        440,
        "9e06297324a977a33ac1e293fce080ee57184e5bca56b179492474ec80787612",
    ),
    "dev/business_ethics.csv": (
        "data/dev/business_ethics.csv",
        424,
        "aefc81ada3ae18bfbe1e64f40b34274ad1349013d64dc5b43c3c8d99c385c6f0",
    ),
    "dev/chinese_civil_service_exam.csv": (
        "data/dev/chinese_civil_service_exam.csv",
        1111,
        "ff8903a93de0cb9951e815afd581d4a98bb004725ae4f85b69721a96d5eb727f",
    ),
    "dev/chinese_driving_rule.csv": (
        "data/dev/chinese_driving_rule.csv",
        688,
        "b5f88cf888f44d1136dbb68d671c932198bac944da0d16a947019b7c21cbd28e",
    ),
    "dev/chinese_food_culture.csv": (
        "data/dev/chinese_food_culture.csv",
        439,
        "7c8fe26eac8b77014c93c555023f5f2707a49194f7c9748b55cf33aea4f1ab3b",
    ),
    "dev/chinese_foreign_policy.csv": (
        "data/dev/chinese_foreign_policy.csv",
        1091,
        "bb1759fd0a009035765af90696c0411234bbe261e19d990add8e796325839d54",
    ),
    "dev/chinese_history.csv": (
        "data/dev/chinese_history.csv",
        1136,
        "b2e1e6ca053566e1879fa0b62b2b71b2248026ed2ae5306a789c0fff2f101173",
    ),
    "dev/chinese_literature.csv": (
        "data/dev/chinese_literature.csv",
        484,
        "b908688b20bd7a293e92580d39f9c63857d9b7b1c7366cb7d7beab7d2fa2a634",
    ),
    "dev/chinese_teacher_qualification.csv": (
        "data/dev/chinese_teacher_qualification.csv",
        835,
        "57e5fa732de23068e3ee709841cb15f695ff425a5501b82c732c08ab33a41e60",
    ),
    "dev/clinical_knowledge.csv": (
        "data/dev/clinical_knowledge.csv",
        726,
        "7197883c51ee9f42fd89372d6dcae809adcdef37e89718640fb1356abfeca540",
    ),
    "dev/college_actuarial_science.csv": (
        "data/dev/college_actuarial_science.csv",
        813,
        "6fa08c27516db844de123f6f1db88706e608bc37be1eb3e76993965a7d4841bb",
    ),
    "dev/college_education.csv": (
        "data/dev/college_education.csv",
        593,
        "5e2d9e9ebbf68eca7bc1de64a3be4cb6aa56e4e13ae34eadd7144f0303ae1d36",
    ),
    "dev/college_engineering_hydrology.csv": (
        "data/dev/college_engineering_hydrology.csv",
        513,
        "a52db1525a3d79984680838c01a33f73a65f1d913c983c87936e59d5237c9e81",
    ),
    "dev/college_law.csv": (
        "data/dev/college_law.csv",
        832,
        "7515682cb500b4aac53ba405124872785077437180f8350bb6d4d4d3864bda8f",
    ),
    "dev/college_mathematics.csv": (
        "data/dev/college_mathematics.csv",
        832,
        "68831d82cc5df956856692968b96264dbf37cb9070b63cb55fe8164256be3d73",
    ),
    "dev/college_medical_statistics.csv": (
        "data/dev/college_medical_statistics.csv",
        665,
        "d9f01a0d1f1776789d39a205a72f2949a9c1127ac159acb5e785aad33567e770",
    ),
    "dev/college_medicine.csv": (
        "data/dev/college_medicine.csv",
        432,
        "9f54c3fc7e9fab4e1583afb6be85f21e9b8b83a2bcbaff336df68e2d4296ee04",
    ),
    "dev/computer_science.csv": (
        "data/dev/computer_science.csv",
        441,
        "73d4e0b6280067ded704dbe3ff41c0e8e7d2c966479a000d828d9f5a15feedd0",
    ),
    "dev/computer_security.csv": (
        "data/dev/computer_security.csv",
        654,
        "9f9e202bc3de749dbbdfa749edf4bbab1b3c2e8cbb589636e1f6a367ee457a02",
    ),
    "dev/conceptual_physics.csv": (
        "data/dev/conceptual_physics.csv",
        1084,
        "95c0665f0ad2882c00d9d02bc847de17759b39b523a01f2e22d4f1f9f5192c3f",
    ),
    "dev/construction_project_management.csv": (
        "data/dev/construction_project_management.csv",
        556,
        "2ec78148e982c006e8653e89e40cadcc191d25f09e4aedc1285db56ea0876ae4",
    ),
    "dev/economics.csv": (
        "data/dev/economics.csv",
        586,
        "c684acb94918c969882a0d94724450f329bea27da835a29d3f26515f0d82af8c",
    ),
    "dev/education.csv": (
        "data/dev/education.csv",
        448,
        "a4b1c264f65941fe7873dd449db717c582ea0b533b442a92ea6599f65cbac6a2",
    ),
    "dev/electrical_engineering.csv": (
        "data/dev/electrical_engineering.csv",
        442,
        "4ba5c1ead9783af3f72ac6a03ba6d166e7496f6e43a18c51f39b64154977dd9d",
    ),
    "dev/elementary_chinese.csv": (
        "data/dev/elementary_chinese.csv",
        446,
        "d8cbcc1db6360d47af57bc049fed0f274c52079881085c95213960d52bc06e69",
    ),
    "dev/elementary_commonsense.csv": (
        "data/dev/elementary_commonsense.csv",
        358,
        "bc9f130062e73b49cda3252c91fc219d4b2928e292209d29c9637055b7f01740",
    ),
    "dev/elementary_information_and_technology.csv": (
        "data/dev/elementary_information_and_technology.csv",
        436,
        "4bbef6a470e53e2138ecbe4ead689954ad64e1e1c4a2603b02747ffd02c33f07",
    ),
    "dev/elementary_mathematics.csv": (
        "data/dev/elementary_mathematics.csv",
        357,
        "4c11ad0ba61c22d50fd2807548e5f7b48d8989e697e7a5c8a50b47dd5eae4922",
    ),
    "dev/ethnology.csv": (
        "data/dev/ethnology.csv",
        429,
        "e79415bda0d57799c0050c8649fa1aee495f5799a7857dc20aee01e0f2eb6fc2",
    ),
    "dev/food_science.csv": (
        "data/dev/food_science.csv",
        437,
        "f15d58e9fdce979b25b43316aab1ca99a49abc26e8792367485b093d1c9bc2c4",
    ),
    "dev/genetics.csv": (
        "data/dev/genetics.csv",
        508,
        "cca416a0efc91c77af33cb0e9674853e1ff31b2573d09f94b1b9b36e1bbae2b9",
    ),
    "dev/global_facts.csv": (
        "data/dev/global_facts.csv",
        562,
        "d421df9caab568af80d2e3a7fb5e0e8efaf15a2a037ab9e2aea19bfd90eb39a6",
    ),
    "dev/high_school_biology.csv": (
        "data/dev/high_school_biology.csv",
        1143,
        "1c6ff5688fd7550eea4a2051183db1a1d0bf80166e60300e131b0b2420e31fcd",
    ),
    "dev/high_school_chemistry.csv": (
        "data/dev/high_school_chemistry.csv",
        917,
        "59a99f3bb1d8b16b9f8837000197c7ed94fbe0fe746b64af16920ce50ce9604a",
    ),
    "dev/high_school_geography.csv": (
        "data/dev/high_school_geography.csv",
        613,
        "0d62a6e09046a322ca3b976f98dac700e7efd17bb442f585a93b3571cef3bb71",
    ),
    "dev/high_school_mathematics.csv": (
        "data/dev/high_school_mathematics.csv",
        468,
        "7175e27a845260f0c97088c7dbcf4a571d46e617d6c0378aa45ac219119ab473",
    ),
    "dev/high_school_physics.csv": (
        "data/dev/high_school_physics.csv",
        978,
        "b0b6cf2222e11c18ca40f95606d75617092671ccb55cd34851137c111922eef2",
    ),
    "dev/high_school_politics.csv": (
        "data/dev/high_school_politics.csv",
        1414,
        "767e7a0c8cc2ef19041d70fba89cc5f59ccc7167d6f732f3cd4e6bbf3f32b734",
    ),
    "dev/human_sexuality.csv": (
        "data/dev/human_sexuality.csv",
        508,
        "021b36054f6119c8cda64a5bac4d311e4254d18142bd084f0522eb6c4a45f087",
    ),
    "dev/international_law.csv": (
        "data/dev/international_law.csv",
        601,
        "372776bc2e9a6e971ee34e1cc1297745dcffe80244cd3a0364159b47ac3fdbcd",
    ),
    "dev/journalism.csv": (
        "data/dev/journalism.csv",
        415,
        "4c77bd61ce1db07166cec95edc4713a0cc9a72807e08b71694c62baa85f34f7d",
    ),
    "dev/jurisprudence.csv": (
        "data/dev/jurisprudence.csv",
        472,
        "ae555827e729451197419f336fa77fcf9d47cce4e76fcd16d425102ce53da17f",
    ),
    "dev/legal_and_moral_basis.csv": (
        "data/dev/legal_and_moral_basis.csv",
        677,
        "3f7ba972a0ad19f590873ff7fd12cb0100d022fd6a7833af4f1180f35a0e21fd",
    ),
    "dev/logical.csv": (
        "data/dev/logical.csv",
        478,
        "d09aa9ccaa15b6d673e5c93a4a2bc26d5bb07b8004012f322c7f714f6afcf82f",
    ),
    "dev/machine_learning.csv": (
        "data/dev/machine_learning.csv",
        722,
        "a000c451322ef32c8102b3ec6376cdbcfd5633745d4714ecbfc1bfe61c1d2793",
    ),
    "dev/management.csv": (
        "data/dev/management.csv",
        535,
        "2d92db04dd1cd6f17d6bcf2fb2c3f085618a8660ad45569e2f1a5cc8563439ff",
    ),
    "dev/marketing.csv": (
        "data/dev/marketing.csv",
        598,
        "ac61a5f64bb8389adf19fb603877be672114c5c06f04a26125bb76877913f6d0",
    ),
    "dev/marxist_theory.csv": (
        "data/dev/marxist_theory.csv",
        635,
        "7ea29b9820c9804c11d0ff982a1c6cffeb1dce0a3efcb6568c34f1a389d923d1",
    ),
    "dev/modern_chinese.csv": (
        "data/dev/modern_chinese.csv",
        565,
        "d1cad007847eb75750063c148b0f44abdd4493b567e90c9bb61cf655373228cc",
    ),
    "dev/nutrition.csv": (
        "data/dev/nutrition.csv",
        440,
        "8b318b013c5e17074c7efdf11d67a2f7fd55f1ae457bf77c48d110f6e4ee3f6e",
    ),
    "dev/philosophy.csv": (
        "data/dev/philosophy.csv",
        511,
        "ce8cab700cef6bfaff2d73b80ebba477527ccc7a1d585ca3a032e214f571dff1",
    ),
    "dev/professional_accounting.csv": (
        "data/dev/professional_accounting.csv",
        547,
        "5b2efd1586fff58119a82a525ef0985ad16b7372ca449c61f6037cd9273e5bb5",
    ),
    "dev/professional_law.csv": (
        "data/dev/professional_law.csv",
        805,
        "688bc4646c9250008f79e0563b411a460a7ac103f584d49974c3bf06dd51b0ff",
    ),
    "dev/professional_medicine.csv": (
        "data/dev/professional_medicine.csv",
        429,
        "371291e6848a9857a3dbad1869126d9ce774d7d6c3fe9b3c9200c9e9d1ebd444",
    ),
    "dev/professional_psychology.csv": (
        "data/dev/professional_psychology.csv",
        498,
        "f2fb45c2ee934027f2e2cdc88c4e03e084d3d55ceae2c3163575be51545d321c",
    ),
    "dev/public_relations.csv": (
        "data/dev/public_relations.csv",
        466,
        "b60523a275d074bd750ff8c3d41fa36738fe1b5fcdf71340818bd0d632debd99",
    ),
    "dev/security_study.csv": (
        "data/dev/security_study.csv",
        569,
        "a9b3f940a470feb546cbf76c3dc34fe56d2dc1bbaf82d7dc82182a1720672549",
    ),
    "dev/sociology.csv": (
        "data/dev/sociology.csv",
        468,
        "74b0e4cd4586b2e6e20e6b7a0a87a4991a5685d3cdf6a5e5b57d53a094f4beae",
    ),
    "dev/sports_science.csv": (
        "data/dev/sports_science.csv",
        463,
        "94f3aa68cbde254db0707a3627153b4200b9efb752b1d8168e246fbf8d391c72",
    ),
    "dev/traditional_chinese_medicine.csv": (
        "data/dev/traditional_chinese_medicine.csv",
        304,
        "345875ca92e284db9a55cb697fdccce270efdd588d7f60d9276a125ea6ed366d",
    ),
    "dev/virology.csv": (
        "data/dev/virology.csv",
        430,
        "049ffecfb092b2a6d3299e67737c3a0c468a2e21968adaabb29771e4d2f3197c",
    ),
    "dev/world_history.csv": (
        "data/dev/world_history.csv",
        1515,
        "1f9172bdf584bf9157e04c04d20887133331ae378fce5d9a2a6a7c3b403b66e5",
    ),
    "dev/world_religions.csv": (
        "data/dev/world_religions.csv",
        384,
        "5626706525abd57b0122b9b3ffbf64730198205343678704e31b00eb2b262817",
    ),
    "test/agronomy.csv": (
        "data/test/agronomy.csv",
        22094,
        "df621d68ea7a6d9adca9c3e98f902cbb5f193a51d7f1c4c4ae2f242fd23961d5",
    ),
    "test/anatomy.csv": (
        "data/test/anatomy.csv",
        15431,
        "b0488d7a394473ba9f3d6ba92a4a88f9c5b7738bc812b8aaea057218c9cf909c",
    ),
    "test/ancient_chinese.csv": (
        "data/test/ancient_chinese.csv",
        27090,
        "0668734669ce0bd646a21e71050e8821c0526cbf0d1707cc707f3d63a7e59883",
    ),
    "test/arts.csv": (
        "data/test/arts.csv",
        18473,
        "e7695e56891cbf9f67163067791c5a2ab107be65702a61c7f30da01590fac3f1",
    ),
    "test/astronomy.csv": (
        "data/test/astronomy.csv",
        29731,
        "e35a393d61a91860c1b120bba75824857aeab01c23d7ff9ed19505a11a949e39",
    ),
    "test/business_ethics.csv": (
        "data/test/business_ethics.csv",
        32503,
        "86cf9918c75f73b084faebea7dd0866bd6e95950a27ca874501303703f986953",
    ),
    "test/chinese_civil_service_exam.csv": (
        "data/test/chinese_civil_service_exam.csv",
        76359,
        "735d0ce6e82254d93aa8efe0c44aec8563e652b80b4fe00601383a28ccc56474",
    ),
    "test/chinese_driving_rule.csv": (
        "data/test/chinese_driving_rule.csv",
        22492,
        "e12e4a67bf7fb90f8d278c90d8f06abf8abfd138ec4388a4bb7feed266c9c1ac",
    ),
    "test/chinese_food_culture.csv": (
        "data/test/chinese_food_culture.csv",
        19364,
        "5e39a97b05f604bb7ba66f5362aa373c0898288e8a3548a1277a5a6a923ff042",
    ),
    "test/chinese_foreign_policy.csv": (
        "data/test/chinese_foreign_policy.csv",
        41000,
        "f44422c71ad74908a7530e45a502c61d49cc3a1fc8c34968bd45922375f7e345",
    ),
    "test/chinese_history.csv": (
        "data/test/chinese_history.csv",
        121830,
        "1f7b977f5e3ff67eb5a910c3adce74c725fccb7ab286ef97e266eeffbbc51644",
    ),
    "test/chinese_literature.csv": (
        "data/test/chinese_literature.csv",
        33414,
        "6214c6e48a22c8e9960cd1653e3720125d68d3035ef7d1c390c9e6d1eaa8c34c",
    ),
    "test/chinese_teacher_qualification.csv": (
        "data/test/chinese_teacher_qualification.csv",
        45104,
        "eb3425ee8d80f14f23766810fddcad2fa6eda19f27f34fe21d21c6c8a0f2c656",
    ),
    "test/clinical_knowledge.csv": (
        "data/test/clinical_knowledge.csv",
        77125,
        "f203dff6c9ae45611ba380f2a60453c2d1440303e9d3304c8cb42c1886edd49c",
    ),
    "test/college_actuarial_science.csv": (
        "data/test/college_actuarial_science.csv",
        23784,
        "85a044386c41215e6005f668328b85bf245a2ace6d2a6258a84b91031c91f3c2",
    ),
    "test/college_education.csv": (
        "data/test/college_education.csv",
        23591,
        "cd13856f5ef865059a47b2f2693f85be227b07cce1c48acb516e9d4c0128f20f",
    ),
    "test/college_engineering_hydrology.csv": (
        "data/test/college_engineering_hydrology.csv",
        19200,
        "94726a0c4d647aae3e32ef574ececcdbc92afd303b9c11fd0f27db5e13168c2a",
    ),
    "test/college_law.csv": (
        "data/test/college_law.csv",
        30868,
        "cb9a57f6a59d66ee6d9206585c9c4bcca95ae30a8299550b2901cf7ecb506a60",
    ),
    "test/college_mathematics.csv": (
        "data/test/college_mathematics.csv",
        30500,
        "480e71728c8d5e70cecfab238ae1e5c31e425d0d9d109ee6822ea6c563d3ddea",
    ),
    "test/college_medical_statistics.csv": (
        "data/test/college_medical_statistics.csv",
        21242,
        "cf738c68e6e6b20ae674d6b440a4cc1bad865e7145355f822ea60a67ccc13dbb",
    ),
    "test/college_medicine.csv": (
        "data/test/college_medicine.csv",
        47688,
        "aa24898b813f7c9567e8ed4cda70ddc79082630bb6bc00939018d65b1de70988",
    ),
    "test/computer_science.csv": (
        "data/test/computer_science.csv",
        30226,
        "5a0ba2cf68147a330ac37a34cf4c68bd4590d9f5dd7e5ea5eee7b49fbe9ded6b",
    ),
    "test/computer_security.csv": (
        "data/test/computer_security.csv",
        43819,
        "107fd397ddbd280ad899a4ccdc87900fe5b0786007783d26a087e2af5e1b71ba",
    ),
    "test/conceptual_physics.csv": (
        "data/test/conceptual_physics.csv",
        43507,
        "600baefcb8a636fe3a4997dbf9000807dc9e45d7f2d10eac1d180084ed02bdc6",
    ),
    "test/construction_project_management.csv": (
        "data/test/construction_project_management.csv",
        25851,
        "82da4f3a01e23b77e718f17f5bebe6b74fccea3b1f8827fd32d1d5739a6a191f",
    ),
    "test/economics.csv": (
        "data/test/economics.csv",
        29116,
        "58509422d04afc4c0e3cc0fe7fac73f3e49066a4539252fe509d288672b3f25a",
    ),
    "test/education.csv": (
        "data/test/education.csv",
        22621,
        "c66b832678d1c59b21230cbd9145de73d42d27089e9d1604314f3b147fb692e4",
    ),
    "test/electrical_engineering.csv": (
        "data/test/electrical_engineering.csv",
        30413,
        "21331d07dbe8eee97bab374b7e722dfbbbbb38d3ca27061d7f92acd7abf10efe",
    ),
    "test/elementary_chinese.csv": (
        "data/test/elementary_chinese.csv",
        38999,
        "6b01b98f8e5d9423095adfef329974e3b1f48a02bd7e92d202d7c46912bbb798",
    ),
    "test/elementary_commonsense.csv": (
        "data/test/elementary_commonsense.csv",
        23880,
        "ebe564f23db3bb74b7a52bcf06f5eabc4a5ba649c7c50261385c431999af6e11",
    ),
    "test/elementary_information_and_technology.csv": (
        "data/test/elementary_information_and_technology.csv",
        37913,
        "d1de41bed87ceaab723808c79a283290231df843b77e6daf3f16de674ae88cd0",
    ),
    "test/elementary_mathematics.csv": (
        "data/test/elementary_mathematics.csv",
        31289,
        "53ec0f72b779347388a515f15a8f6bf77da0954574664c4b866dd78e4fdd06bc",
    ),
    "test/ethnology.csv": (
        "data/test/ethnology.csv",
        21333,
        "4d43d06de785147a41ab52e560d049ac6cfee0a3ab7d0a75b38b281ca7d8cb0a",
    ),
    "test/food_science.csv": (
        "data/test/food_science.csv",
        17630,
        "d7723214b9fc9ee0044436540e12917ab7a9b704bc6c3c325d155c430ce37c24",
    ),
    "test/genetics.csv": (
        "data/test/genetics.csv",
        31035,
        "54988038f3ac9e07a337411d393315429e92ae97b76fab24ebcda0c0c65ecc78",
    ),
    "test/global_facts.csv": (
        "data/test/global_facts.csv",
        25403,
        "e74b95a28ee8df13fbeafa836c8d4054b1ffd4a0e94e201e192bb3cb1d11889a",
    ),
    "test/high_school_biology.csv": (
        "data/test/high_school_biology.csv",
        70595,
        "9755be53e6a5719d5249db95b0af9f47b9ef1d7795b7d1a2a69dc45bd98edb8d",
    ),
    "test/high_school_chemistry.csv": (
        "data/test/high_school_chemistry.csv",
        47456,
        "638f437fc0e0c6216db2f03ba07f7636cc82e4111b47f48fc68e2e9ecf39777c",
    ),
    "test/high_school_geography.csv": (
        "data/test/high_school_geography.csv",
        28906,
        "7d557bd8b01e2f73e543f3ba7220df31f77c2233b4c10ad651a8368f07008a83",
    ),
    "test/high_school_mathematics.csv": (
        "data/test/high_school_mathematics.csv",
        22707,
        "8fa2fd48768defe7473e1b13f3d3864f792ae99a153f1eb6fea8b4d2842f021d",
    ),
    "test/high_school_physics.csv": (
        "data/test/high_school_physics.csv",
        30181,
        "c21a1c6725d2933f0ebd52e1b300a9bb7d49e37097fbe58ad8c256da82bf5b91",
    ),
    "test/high_school_politics.csv": (
        "data/test/high_school_politics.csv",
        59348,
        "8a24336a0a00fc49d1b88b8a61d0b3e65e3a10cbbd614d2aee49fea31f703cfd",
    ),
    "test/human_sexuality.csv": (
        "data/test/human_sexuality.csv",
        19658,
        "1aea3017ffbfa6a1ca2e89f51a11f63990280baa552176a1845024fb0cced68c",
    ),
    "test/international_law.csv": (
        "data/test/international_law.csv",
        41747,
        "8680d07f0d703793dcc71e9b01b6bdcee765a89474dc5a0a4f2d4b8010799f7a",
    ),
    "test/journalism.csv": (
        "data/test/journalism.csv",
        25560,
        "1550a3492c86f639327e051c2de511b884d1128a648458e5aacbd936607b5b62",
    ),
    "test/jurisprudence.csv": (
        "data/test/jurisprudence.csv",
        127767,
        "8806f36a6b91781bfb3ab71f926876bd3b577d9ca7893ce85356334fd2a37df9",
    ),
    "test/legal_and_moral_basis.csv": (
        "data/test/legal_and_moral_basis.csv",
        53368,
        "bb17449ec248520f42dcd239f776c7a9487f8061265d142ac0ff8cf10a3a6ee0",
    ),
    "test/logical.csv": (
        "data/test/logical.csv",
        21522,
        "8c0434d1b536268e35b153646a8c478e5fed258cfaf91b3196f496097957bfde",
    ),
    "test/machine_learning.csv": (
        "data/test/machine_learning.csv",
        28335,
        "d709ba631b927cb5694b16c74fe82668f47a8634c367844ebea3eb12a6e97cff",
    ),
    "test/management.csv": (
        "data/test/management.csv",
        36185,
        "a02852d014a196db44b5e20a888d24e10fb37fc1eb9c0f2bbd3e19cb44d30415",
    ),
    "test/marketing.csv": (
        "data/test/marketing.csv",
        33855,
        "32973150ea13549439ef453d0e72df44bcee00965714919f485c43a1be2a4548",
    ),
    "test/marxist_theory.csv": (
        "data/test/marxist_theory.csv",
        38667,
        "014f1e0fad946d722ce1ee0156dbee66745f60da22a6291462401683f7455786",
    ),
    "test/modern_chinese.csv": (
        "data/test/modern_chinese.csv",
        28645,
        "c9a88c2819f49498f33db858713e4e8dfcda626f2c593aa4985949333c3914f7",
    ),
    "test/nutrition.csv": (
        "data/test/nutrition.csv",
        21257,
        "7e407acf9be29fcad7e73796bfec196af3c3c16d48f44eb82332a887eb097941",
    ),
    "test/philosophy.csv": (
        "data/test/philosophy.csv",
        17943,
        "d921532efb00a7e8c63ce78c99ce62bd623e7eff74665682a161792863975aef",
    ),
    "test/professional_accounting.csv": (
        "data/test/professional_accounting.csv",
        30775,
        "109f4d0885450b6544e0da1ddeb3f86e60151c872df29f7cadf4a1dfb521d306",
    ),
    "test/professional_law.csv": (
        "data/test/professional_law.csv",
        67669,
        "07a492026b8c12d04932b09bbe42e14bd00ec95b51219522b662e38d795f405a",
    ),
    "test/professional_medicine.csv": (
        "data/test/professional_medicine.csv",
        56226,
        "c662d2b70f0b5d4082172c3c7554d249635056705f5da9b506d6dfd442c2e9ec",
    ),
    "test/professional_psychology.csv": (
        "data/test/professional_psychology.csv",
        35085,
        "e9f45c2a238c6e2323cbebfc42836668dc9a27df4d2a8611f33b6216f8cf5542",
    ),
    "test/public_relations.csv": (
        "data/test/public_relations.csv",
        28521,
        "9ae5d1b049fd223853f738913112eb5bd52a56429932e8d9ded3450980c29dda",
    ),
    "test/security_study.csv": (
        "data/test/security_study.csv",
        24977,
        "a352cbd0c01be8d0b3f1c4fbada2d4f313ae5eab4a0960b660e31d2c70b7648f",
    ),
    "test/sociology.csv": (
        "data/test/sociology.csv",
        34626,
        "ce70f1a1cef9eb50a549ab3a204b63130fb6da1ac5e4e8ff9915ee941b946fdf",
    ),
    "test/sports_science.csv": (
        "data/test/sports_science.csv",
        22897,
        "de1cb02fbc963e07caf0f49376fc3a5d3a1cce5471ba3b063c4391db2320a8c1",
    ),
    "test/traditional_chinese_medicine.csv": (
        "data/test/traditional_chinese_medicine.csv",
        23567,
        "dfbb4f311649576bb20e165cfdff0d1d5633d64e156eaa5bb57373d491418b16",
    ),
    "test/virology.csv": (
        "data/test/virology.csv",
        26659,
        "ac411d3d869e86bce60b8aab78e568fb74f607da2ac188ce11dcf55eb018b7ba",
    ),
    "test/world_history.csv": (
        "data/test/world_history.csv",
        64348,
        "c90510266dde54e3878b6fa7b00d8c85285f75daed398e0c19353eb66e9e23f0",
    ),
    "test/world_religions.csv": (
        "data/test/world_religions.csv",
        19310,
        "799eabc90e3baf58fe266644e548c637986feacc7fed733d707c4e110c037cad",
    ),
}

GSM8K = {  # openai/grade-school-math @ 3101c7d5072418e28b9008a6636bde82a006892c
    "test.jsonl": (
        "grade_school_math/data/test.jsonl",
        749738,
        "3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14",
    ),
    "train.jsonl": (
        "grade_school_math/data/train.jsonl",
        4166206,
        "17f347dc51477c50d4efb83959dbb7c56297aba886e5544ee2aaed3024813465",
    ),
}

TINYEVAL_SEED = {  # datawhalechina/tiny-universe @ 25c84e1addf6bac0db1ed80ffb457bb8a060acf2
    "config/dataset2maxlen.json": (
        "content/TinyEval/Eval/config/dataset2maxlen.json",
        112,
        "13dd43c77053a5ac5e09555c3f947da5de4ffa62be54f68bf17f877682b6edb2",
    ),
    "config/dataset2prompt.json": (
        "content/TinyEval/Eval/config/dataset2prompt.json",
        632,
        "408bc4810cad79622649ca9420187d0c8bc71ec9e5214e221f05ce3a014de019",
    ),
    "dataset/GAOKAO-new1-math.json": (
        "content/TinyEval/Eval/dataset/GAOKAO-new1-math.json",
        4149,
        "054ac45b17ad9c1b4775db9fca6b4e00345f91d3906fcd1a4fb1e6a46670228b",
    ),
    "dataset/GAOKAO_math.jsonl": (
        "content/TinyEval/Eval/dataset/GAOKAO_math.jsonl",
        3411,
        "d4620a943a6af6bc0f3791dfecf4d28a4b5eea79cb34715bca91d2bf05449c84",
    ),
    "dataset/custom_zh.jsonl": (
        "content/TinyEval/Eval/dataset/custom_zh.jsonl",
        165,
        "10ebecd46035761c00f24aa80f5505f224b24c4997070457b83b66bf69a1eddd",
    ),
    "pred/Qwen2/GAOKAO_math.jsonl": (
        "content/TinyEval/Eval/pred/Qwen2/GAOKAO_math.jsonl",
        15964,
        "5712ac3e2133c8579e74ae573937932dccee7275277d2ca4b7002251b7f57eda",
    ),
    "pred/Qwen2/result.json": (
        "content/TinyEval/Eval/pred/Qwen2/result.json",
        27,
        "3f524ef6a3d8a6cf8d6c152e7243e35f982b1063d65ece2c8ca24a0b7da4cdaa",
    ),
    "pred/internlm/multi_news.jsonl": (
        "content/TinyEval/Eval/pred/internlm/multi_news.jsonl",
        738101,
        "7b368c4247c51a972f90e656b7092939741467af243640eee687f2bfb85ae10e",
    ),
    "pred/internlm/multifieldqa_zh.jsonl": (
        "content/TinyEval/Eval/pred/internlm/multifieldqa_zh.jsonl",
        99397,
        "a15906336af40ca3acb2411338b6465c10068633896bc10fea825d2924eac6d1",
    ),
    "pred/internlm/result.json": (
        "content/TinyEval/Eval/pred/internlm/result.json",
        75,
        "10bcd9cbd95f907d2950eeed57c42a26b415ceca700b9027740d0fbf4c178d51",
    ),
    "pred/internlm/trec.jsonl": (
        "content/TinyEval/Eval/pred/internlm/trec.jsonl",
        360885,
        "86e66dd8c51c306ca5f9234ac26237f1fcc107011493eb52cdcb99211be1e125",
    ),
    "pred/internlm2/multifieldqa_zh.jsonl": (
        "content/TinyEval/Eval/pred/internlm2/multifieldqa_zh.jsonl",
        37451,
        "596e5fc926aa18c086bce291281bb1c114244aadc0ca50ecc13de2fb9db855d5",
    ),
}

CEVAL_SUBJECTS = {  # hkust-nlp/ceval @ cba65ae93bcf189149ced9f66ae0c958201faed9
    "subject_mapping.json": (
        "subject_mapping.json",
        5560,
        "671018e9d1ac8e51e8c3ea02574c89be8ff7660ebe67c8ec31b30b9035e064a7",
    ),
}
