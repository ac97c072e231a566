"""sha256 pins of the GitHub files that `data fetch` downloads (generated, do not edit by hand).

Each entry: local path (inside the dataset's folder) -> (path in the repo, size in bytes, sha256).
Computed from the pinned commits with `git show COMMIT:PATH | sha256sum`; the files that also sit in
the project's development copy (../shared/data) were checked byte for byte against it.
"""

ACEBENCH_ZH = {  # ACEBench/ACEBench @ e6db74b735ead22c24f27367606a9408573b848f
    "data_agent_multi_step.json": (
        "data_all/data_zh/data_agent_multi_step.json",
        71736,
        "dcf74daf8dce797c1c86cbcf54e6fd63d6b83425d50bc7076ad98810b14b6b68",
    ),
    "data_agent_multi_turn.json": (
        "data_all/data_zh/data_agent_multi_turn.json",
        110162,
        "847df81f26e188e7c1eff8d010acf5f3c415cbe3a89ebc414efee013dc81c06e",
    ),
    "data_normal_atom_bool.json": (
        "data_all/data_zh/data_normal_atom_bool.json",
        222549,
        "0b945e4a0d2018875b6e50a28e55359d94609681853c50a87d205a115be55bf8",
    ),
    "data_normal_atom_enum.json": (
        "data_all/data_zh/data_normal_atom_enum.json",
        235001,
        "806ece8b2753779816185a4060e68667053ab46144bb2b294c434bc3d9116f85",
    ),
    "data_normal_atom_list.json": (
        "data_all/data_zh/data_normal_atom_list.json",
        236804,
        "da4839021796e66eb149917ebfe839dd25589faf2310e5360e8d04d1c102db88",
    ),
    "data_normal_atom_number.json": (
        "data_all/data_zh/data_normal_atom_number.json",
        237266,
        "924456f46cada50acd4330c8b7f3790ce12837480991d1a6f3098fd73cb8ebb7",
    ),
    "data_normal_atom_object_deep.json": (
        "data_all/data_zh/data_normal_atom_object_deep.json",
        186154,
        "7d59db54e4d486fb29e985bfccc752afac92fe67a739c0f3ea2303dfd89f87af",
    ),
    "data_normal_atom_object_short.json": (
        "data_all/data_zh/data_normal_atom_object_short.json",
        162795,
        "1c7107737f539243629cbbf118a83138428c05da5574658caf6c8ff8ed0a252d",
    ),
    "data_normal_multi_turn_user_adjust.json": (
        "data_all/data_zh/data_normal_multi_turn_user_adjust.json",
        304191,
        "15370d45110dbb2fae7b18b1a738b5f08db5f3c5b4faf8fd01ea716335754721",
    ),
    "data_normal_multi_turn_user_switch.json": (
        "data_all/data_zh/data_normal_multi_turn_user_switch.json",
        530323,
        "18f5baf129f7fdfc72c9aaf43b1d9c51e846491f890fa616a66e007cfe676962",
    ),
    "data_normal_preference.json": (
        "data_all/data_zh/data_normal_preference.json",
        295699,
        "cce33ef074d89bc5a5e87090fc36d22720f83af936501065dcef87723c27e761",
    ),
    "data_normal_similar_api.json": (
        "data_all/data_zh/data_normal_similar_api.json",
        79309,
        "ecf3324eabfd91a626f97c91a550213601cce84b4eb410e3c12a5e05eff9cb91",
    ),
    "data_normal_single_turn_parallel_function.json": (
        "data_all/data_zh/data_normal_single_turn_parallel_function.json",
        331188,
        "8479e8739e25a58ae61f18b5d68f3843dc76f22c3ce155353d56036d4778f894",
    ),
    "data_normal_single_turn_single_function.json": (
        "data_all/data_zh/data_normal_single_turn_single_function.json",
        305479,
        "95e8a10c3fc98d706d69a2b47cc7ec1a18449eb24e1dcb616b232b0a8a83aff4",
    ),
    "data_special_error_param.json": (
        "data_all/data_zh/data_special_error_param.json",
        84583,
        "2c728affde4a5551c38d59eef4d36aa0997bc23e2deb097532536a854cf7f4d2",
    ),
    "data_special_incomplete.json": (
        "data_all/data_zh/data_special_incomplete.json",
        153505,
        "e2e6b3383679d3e6970590be6972bb7b36f2dad47aba3ed18b83556d00f7d5fc",
    ),
    "data_special_irrelevant.json": (
        "data_all/data_zh/data_special_irrelevant.json",
        146737,
        "3a43bf88e1b77be69f2d078a978979e7b37d402735af5cd764f116f09bbbc29f",
    ),
    "possible_answer/data_agent_multi_step.json": (
        "data_all/data_zh/possible_answer/data_agent_multi_step.json",
        41792,
        "4ca297f2c1d5f8eee3a45cd3e7d8cce7f2bb89d1f22a8e12fd033f6c50a7069b",
    ),
    "possible_answer/data_agent_multi_turn.json": (
        "data_all/data_zh/possible_answer/data_agent_multi_turn.json",
        57774,
        "ea11d8cc8fdef39660699ec219b0eef71d261226f8018ed6c35571206e53ec00",
    ),
    "possible_answer/data_normal_atom_bool.json": (
        "data_all/data_zh/possible_answer/data_normal_atom_bool.json",
        7676,
        "c9e9bb15872a71284742de8f9db241ead8621682bb4b0ba1894550cec95be571",
    ),
    "possible_answer/data_normal_atom_enum.json": (
        "data_all/data_zh/possible_answer/data_normal_atom_enum.json",
        7678,
        "57a75036ca6901619d7f6ed37371d82063524e1e02dacc58ba1e68c73e3d0888",
    ),
    "possible_answer/data_normal_atom_list.json": (
        "data_all/data_zh/possible_answer/data_normal_atom_list.json",
        9302,
        "586834aabc928c93df20af270656bdf2846ae7761a490daf4fbfd11b51e4f7bf",
    ),
    "possible_answer/data_normal_atom_number.json": (
        "data_all/data_zh/possible_answer/data_normal_atom_number.json",
        6938,
        "093288870e5a7d6243d2e598c5ea2ccaa7a84e95a523af70b17a5b43bef11cd7",
    ),
    "possible_answer/data_normal_atom_object_deep.json": (
        "data_all/data_zh/possible_answer/data_normal_atom_object_deep.json",
        15269,
        "15bd565c36852d3d93e68f4dee5189b6b0a87dfd9947544dda82759d46b67eb9",
    ),
    "possible_answer/data_normal_atom_object_short.json": (
        "data_all/data_zh/possible_answer/data_normal_atom_object_short.json",
        9797,
        "e4cd896db9292b7eb350d2551d8ce63a60d537b66dd28b13c64e2118afad3483",
    ),
    "possible_answer/data_normal_multi_turn_user_adjust.json": (
        "data_all/data_zh/possible_answer/data_normal_multi_turn_user_adjust.json",
        25409,
        "15accc1f8dfb0f44aa04cde0a26a552d425ce104dbaa5c6dbc85b7d0115842e5",
    ),
    "possible_answer/data_normal_multi_turn_user_switch.json": (
        "data_all/data_zh/possible_answer/data_normal_multi_turn_user_switch.json",
        28640,
        "89257a02b15a6d5b52166f51fdd125ec322ba6728e5389f5bda7e8751dbeb8fd",
    ),
    "possible_answer/data_normal_preference.json": (
        "data_all/data_zh/possible_answer/data_normal_preference.json",
        9667,
        "6ea2c90fb29a36964e5700f1a81a21b7284f8362d7aa809c30c4ea4d5a0d7aa5",
    ),
    "possible_answer/data_normal_similar_api.json": (
        "data_all/data_zh/possible_answer/data_normal_similar_api.json",
        8219,
        "aa3e5b569c31ac4ca4b728d9fcb105a992566ddea15964e9f55e29aa945ab384",
    ),
    "possible_answer/data_normal_single_turn_parallel_function.json": (
        "data_all/data_zh/possible_answer/data_normal_single_turn_parallel_function.json",
        73027,
        "0786f04adcc1672ebd7d938fc8f602da674c3312b4c8b5f3d7d990523bc8891a",
    ),
    "possible_answer/data_normal_single_turn_single_function.json": (
        "data_all/data_zh/possible_answer/data_normal_single_turn_single_function.json",
        31157,
        "5e4a4f3268e46095392b6208bec3aefd015467404985d45853155ec6f036edf4",
    ),
    "possible_answer/data_special_error_param.json": (
        "data_all/data_zh/possible_answer/data_special_error_param.json",
        4029,
        "e57c471a4a4f906b92c2ab3f67052a31ef4c580c11b8dc5941152a4fbce3d246",
    ),
    "possible_answer/data_special_incomplete.json": (
        "data_all/data_zh/possible_answer/data_special_incomplete.json",
        5636,
        "d1401ce3075dadf31b476f0074221efd7aeef548d6e13c99471110eed3743570",
    ),
    "possible_answer/data_special_irrelevant.json": (
        "data_all/data_zh/possible_answer/data_special_irrelevant.json",
        5990,
        "cd3f1d66e554869e8870677acc07df78c6ebf8bbba6e600cbb825072181566b8",
    ),
}

ACEBENCH_EN = {  # ACEBench/ACEBench @ e6db74b735ead22c24f27367606a9408573b848f
    "data_agent_multi_step.json": (
        "data_all/data_en/data_agent_multi_step.json",
        102546,
        "c04b7561a2a5b31b3c4fd3067807ab4e0a7907f5a72cd5ec987da3469eac1fe9",
    ),
    "data_agent_multi_turn.json": (
        "data_all/data_en/data_agent_multi_turn.json",
        149522,
        "0380631f379510fad4aab885b9679cfe99e66cf3a01e92f570f9180141f637d0",
    ),
    "data_normal_atom_bool.json": (
        "data_all/data_en/data_normal_atom_bool.json",
        300243,
        "59695e59c0d92cd22ec418bfd6f936d0d44a8d6e1fc16e6cb033b12213c57b0b",
    ),
    "data_normal_atom_enum.json": (
        "data_all/data_en/data_normal_atom_enum.json",
        315211,
        "a2e870f8ba23687ba182a2bb0bdba0a7e02c21b67f3ebc5cc07a71fc2007d31b",
    ),
    "data_normal_atom_list.json": (
        "data_all/data_en/data_normal_atom_list.json",
        307528,
        "dd1388f66a25f6ff04a6c32abaa63a031ffa33a1aa15a55efe95b0d77ec78b52",
    ),
    "data_normal_atom_number.json": (
        "data_all/data_en/data_normal_atom_number.json",
        305558,
        "eba9d748fcd08f142abf053fe2eecc573c98232f218ff412eb9ea5350abca422",
    ),
    "data_normal_atom_object_deep.json": (
        "data_all/data_en/data_normal_atom_object_deep.json",
        235340,
        "2df8cd21fcf7388ee4fa0d98f0587292ba4c14b7c8bde059b3dca18ad885d1ec",
    ),
    "data_normal_atom_object_short.json": (
        "data_all/data_en/data_normal_atom_object_short.json",
        187041,
        "eef597c5400e17e1c23a7548505e48139a3648d6e5bd5feabbc9b12fcf7a1a76",
    ),
    "data_normal_multi_turn_user_adjust.json": (
        "data_all/data_en/data_normal_multi_turn_user_adjust.json",
        403725,
        "b05dd0fe2afb02270ecbdfddfc7a8b1606339c234d5098749742e79bc51ea8cc",
    ),
    "data_normal_multi_turn_user_switch.json": (
        "data_all/data_en/data_normal_multi_turn_user_switch.json",
        616616,
        "3ed94d09401c53a99c23edc8b60ebfda8d4ae486f9bea19f87b6000a66588cf0",
    ),
    "data_normal_preference.json": (
        "data_all/data_en/data_normal_preference.json",
        360015,
        "61413bbfb5f94b3ad74f348d9f33c8c10b531dfcf6e5429caa3f1a91fa64252d",
    ),
    "data_normal_similar_api.json": (
        "data_all/data_en/data_normal_similar_api.json",
        105610,
        "f3ae38a6b56ab27c47bd929f16468598636ff76ecc095ff60c41c8b5a9ee843f",
    ),
    "data_normal_single_turn_parallel_function.json": (
        "data_all/data_en/data_normal_single_turn_parallel_function.json",
        364550,
        "7b9b9200cf5224e93f20bf14f076bead8e75d451a7dd6956d346fb1200412235",
    ),
    "data_normal_single_turn_single_function.json": (
        "data_all/data_en/data_normal_single_turn_single_function.json",
        377260,
        "8505410b642c2ba70c2085e29e5bb4879b3ccd0c4a96be4a1fd3c806cbb501e7",
    ),
    "data_special_error_param.json": (
        "data_all/data_en/data_special_error_param.json",
        99795,
        "3ce0f322934d8a8a96eb8bae945949f61c53b74505ba0d65c4850f98e8ba3bae",
    ),
    "data_special_incomplete.json": (
        "data_all/data_en/data_special_incomplete.json",
        183613,
        "186f593f8f2be7e709c5878f57d23f401c51e326ffcadcd62f9c5c08c8e34f3b",
    ),
    "data_special_irrelevant.json": (
        "data_all/data_en/data_special_irrelevant.json",
        175451,
        "20bb62a9c48b1daf852870096f5d70d53a09a07b8f90a7c09815c6d934e8f41e",
    ),
    "possible_answer/data_agent_multi_step.json": (
        "data_all/data_en/possible_answer/data_agent_multi_step.json",
        43354,
        "7086bf7d704e1ce2426cfbd63606a7a00fc92aab77d9973517a5536883e3c179",
    ),
    "possible_answer/data_agent_multi_turn.json": (
        "data_all/data_en/possible_answer/data_agent_multi_turn.json",
        59156,
        "ad077af54920d614438c28b3c7483d556b1a732d0dd0973c867e497c7c0a828b",
    ),
    "possible_answer/data_normal_atom_bool.json": (
        "data_all/data_en/possible_answer/data_normal_atom_bool.json",
        7810,
        "16c5c8d009d37a0dd5e398838c62857ad2ebae1eb0c0ee1a52eed39a654df86e",
    ),
    "possible_answer/data_normal_atom_enum.json": (
        "data_all/data_en/possible_answer/data_normal_atom_enum.json",
        7498,
        "bdfec87c5fd4bc3608cb88c53c1d7eacc4e76eb6f73e738451fbff4252292a92",
    ),
    "possible_answer/data_normal_atom_list.json": (
        "data_all/data_en/possible_answer/data_normal_atom_list.json",
        7966,
        "d0c47a90f93ad48b505355290750e4a6c307cc59f535ab34d1947a3e60418eb9",
    ),
    "possible_answer/data_normal_atom_number.json": (
        "data_all/data_en/possible_answer/data_normal_atom_number.json",
        6825,
        "a95aca7f2e986280a361f0050d2f8ab02fa24ed5dc1cd2f8ddad5a5279459e8b",
    ),
    "possible_answer/data_normal_atom_object_deep.json": (
        "data_all/data_en/possible_answer/data_normal_atom_object_deep.json",
        18865,
        "bf681a1cd84fb286562f3ba57ce9d28946a7cdcf8661b2aad125d69d4beecab7",
    ),
    "possible_answer/data_normal_atom_object_short.json": (
        "data_all/data_en/possible_answer/data_normal_atom_object_short.json",
        13223,
        "27d5cb55dd364c493cc5e2452e208e7a0da8ee55bfbb12133b14250683cdd920",
    ),
    "possible_answer/data_normal_multi_turn_user_adjust.json": (
        "data_all/data_en/possible_answer/data_normal_multi_turn_user_adjust.json",
        31810,
        "a570117cde521c5d1c16adc2d461b8845c969a3334192bd357dec13cf6657889",
    ),
    "possible_answer/data_normal_multi_turn_user_switch.json": (
        "data_all/data_en/possible_answer/data_normal_multi_turn_user_switch.json",
        27345,
        "ca0c10778a899fecd3b9767dae7d188d9924a0dbb191e2e6bc0b5808b8baa37e",
    ),
    "possible_answer/data_normal_preference.json": (
        "data_all/data_en/possible_answer/data_normal_preference.json",
        10053,
        "ed9da0b58446812e8be562fb0594989bd759c249c1cdcd722a9dee5e89ee6644",
    ),
    "possible_answer/data_normal_similar_api.json": (
        "data_all/data_en/possible_answer/data_normal_similar_api.json",
        9993,
        "0976f8fd3f11b9d5ba3783dc746158aeea3fdb1b34a46b07f3c4c731375a8543",
    ),
    "possible_answer/data_normal_single_turn_parallel_function.json": (
        "data_all/data_en/possible_answer/data_normal_single_turn_parallel_function.json",
        59435,
        "fac555edad6f61927093504f10bdaef3cf54fbd587affcf3ce52b9f4ec0d3aa0",
    ),
    "possible_answer/data_normal_single_turn_single_function.json": (
        "data_all/data_en/possible_answer/data_normal_single_turn_single_function.json",
        31354,
        "e541ad06ecaf49310105209222b9788711cc15d684174276f56224e584b8589d",
    ),
    "possible_answer/data_special_error_param.json": (
        "data_all/data_en/possible_answer/data_special_error_param.json",
        4032,
        "5e4c8b8ca768d65372fac1e54c16ef90bf6c8869b8163a00a4afcc47867249b8",
    ),
    "possible_answer/data_special_incomplete.json": (
        "data_all/data_en/possible_answer/data_special_incomplete.json",
        6000,
        "4792432c4883846e4ab46ea30cd98a78f5d65bef5f5eeae3e31c528985dd31bd",
    ),
    "possible_answer/data_special_irrelevant.json": (
        "data_all/data_en/possible_answer/data_special_irrelevant.json",
        5990,
        "cd3f1d66e554869e8870677acc07df78c6ebf8bbba6e600cbb825072181566b8",
    ),
}

BFCL_V4 = {  # ShishirPatil/gorilla @ 6ea57973c7a6097fd7c5915698c54c17c5b1b6c8
    "BFCL_v4_format_sensitivity.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/BFCL_v4_format_sensitivity.json",
        4963,
        "1e7ebd0ec441198d3f7d3b60be73d0c9eba54094d2c3731b830f5da7a2c63c19",
    ),
    "BFCL_v4_irrelevance.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/BFCL_v4_irrelevance.json",
        159940,
        "2b6ed4c2e992cdcf5f1678a701851f944bef7550ee026ed1ddb89efed5be01a6",
    ),
    "BFCL_v4_live_irrelevance.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/BFCL_v4_live_irrelevance.json",
        2209534,
        "6559fda2beaceb609a2cd2e504c65b4a56cb448e1ef88fddfd199e163d163349",
    ),
    "BFCL_v4_live_multiple.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/BFCL_v4_live_multiple.json",
        3891277,
        "fd8ccfad4d911420d0e3341dbe2fff77d1d341da934248b9bb2bda24ab3a10c8",
    ),
    "BFCL_v4_live_parallel.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/BFCL_v4_live_parallel.json",
        15649,
        "6c26e9fdc3350cf596e6d1ea9c179cbff834761bccf562f4141ed29a839ca421",
    ),
    "BFCL_v4_live_parallel_multiple.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/BFCL_v4_live_parallel_multiple.json",
        82332,
        "21d4b9319c1faac431e22757b367ea28917fe467364c3a4b17f16ec06d4f6e79",
    ),
    "BFCL_v4_live_relevance.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/BFCL_v4_live_relevance.json",
        47327,
        "e03f9e241657a137cba48a89ee12f47bf3fcb7e4f6274263e9c699a0c974203a",
    ),
    "BFCL_v4_live_simple.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/BFCL_v4_live_simple.json",
        260140,
        "1af2ac87dca47556db7b7e37e51e28b459a38b594e3c7b3c792b4903598ca0c4",
    ),
    "BFCL_v4_memory.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/BFCL_v4_memory.json",
        33237,
        "40fc21d4528af53c6b44204def89e81515d0101654229e2c2e82bbf5f047b14f",
    ),
    "BFCL_v4_multi_turn_base.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/BFCL_v4_multi_turn_base.json",
        390425,
        "1a21a995d06fd6f20ba55de7bced30ef953ec35e998f502ec2ecf4d66ef1c43a",
    ),
    "BFCL_v4_multi_turn_long_context.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/BFCL_v4_multi_turn_long_context.json",
        392016,
        "78c3268c5cc8e97c0f4ec6c811b3b9a2bba14323b1830b7a874b06d822749324",
    ),
    "BFCL_v4_multi_turn_miss_func.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/BFCL_v4_multi_turn_miss_func.json",
        401159,
        "87d28ce10e37d864b72de85d5732eef2a867b241d6c1c99b4ae682c9e3ea921c",
    ),
    "BFCL_v4_multi_turn_miss_param.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/BFCL_v4_multi_turn_miss_param.json",
        402974,
        "f0c66dda3795f5f53e3e1c0cc8ba0246b6761c8f58bdba8317203bf451ab8838",
    ),
    "BFCL_v4_multiple.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/BFCL_v4_multiple.json",
        316583,
        "aef168155ebd74b7ac2401198b201343bc7d16d7a3d7e0d4e6d8ee82c6969b2a",
    ),
    "BFCL_v4_parallel.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/BFCL_v4_parallel.json",
        171896,
        "19f51a82eff42e5d62541aa500115a056eb78f437c2ba1f10415fd7c8e5dda84",
    ),
    "BFCL_v4_parallel_multiple.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/BFCL_v4_parallel_multiple.json",
        347080,
        "8863ea8433239f55c5f016154cf0830853c89f693c6ea270396a2fa121960579",
    ),
    "BFCL_v4_simple_java.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/BFCL_v4_simple_java.json",
        86619,
        "13d2303a125b08754f0e41995b9273b5005fa8ed8ebfaa24ef53b4d83c4b5c6e",
    ),
    "BFCL_v4_simple_javascript.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/BFCL_v4_simple_javascript.json",
        47063,
        "329e67fedf79a6243d93dbda4b388d12bd2d31f1f2163d92cb6ef676d1764f44",
    ),
    "BFCL_v4_simple_python.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/BFCL_v4_simple_python.json",
        283274,
        "82dd63ba502eb2520c6b5d1d9a5c4b590e03ff261565175561f6228a367d1991",
    ),
    "BFCL_v4_web_search.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/BFCL_v4_web_search.json",
        36984,
        "6fc41d96d003dc849028966a782923560d2fc127ed2088aa967f06daaafa4268",
    ),
    "memory_prereq_conversation/memory_customer.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/memory_prereq_conversation/memory_customer.json",
        74686,
        "806ac91e558e3d933e526ecc0c286e417657f76a3c9b9073eef830a532eb4eb2",
    ),
    "memory_prereq_conversation/memory_finance.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/memory_prereq_conversation/memory_finance.json",
        32819,
        "3cef1f235667f479b8f45c7082247454b2129ee88fe4fbcdbc53fd2cdf495b75",
    ),
    "memory_prereq_conversation/memory_healthcare.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/memory_prereq_conversation/memory_healthcare.json",
        25116,
        "56e7bd7b2e7c01efe81f1e0be85149ea3886bb2d9cb59f90e9d9e27b91f4604d",
    ),
    "memory_prereq_conversation/memory_notetaker.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/memory_prereq_conversation/memory_notetaker.json",
        5251,
        "07f3239ef2e9e1421901f05d3c8192469fa129324e124a47bcb35ff9c7785c91",
    ),
    "memory_prereq_conversation/memory_student.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/memory_prereq_conversation/memory_student.json",
        97092,
        "e2d6c32e9e2671c61f682e845dcdafd9eee7c9f3e2d5da1615d3afd2aeecf2f0",
    ),
    "multi_turn_func_doc/gorilla_file_system.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/multi_turn_func_doc/gorilla_file_system.json",
        13953,
        "c4c1b741c71e2a17c97a5dc9c4a91d89978c4eaece56494d14272d5df6c650e9",
    ),
    "multi_turn_func_doc/math_api.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/multi_turn_func_doc/math_api.json",
        9158,
        "83fa31708c89442bdcf12ac4dfbe3be8663ec9183a1b1524a9fda98164bc7e0b",
    ),
    "multi_turn_func_doc/memory_kv.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/multi_turn_func_doc/memory_kv.json",
        9087,
        "96480cd9cbd3d4a34cd8f78879bc6622731768a26e080f7a34782e36e3402287",
    ),
    "multi_turn_func_doc/memory_rec_sum.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/multi_turn_func_doc/memory_rec_sum.json",
        2501,
        "4ceff946df00983c7f0b95d1b70ae402247f3312fb898bac9ecfa1de52f5a783",
    ),
    "multi_turn_func_doc/memory_vector.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/multi_turn_func_doc/memory_vector.json",
        7287,
        "917908ca99fdd01e203274b7ec6eb2347fa91d57f3c6341e20945cc9c9d746cf",
    ),
    "multi_turn_func_doc/message_api.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/multi_turn_func_doc/message_api.json",
        6027,
        "4d58ea933a5d2b280d7a52366617fb47fecd333d7b0e08e724db6fa12fb5f847",
    ),
    "multi_turn_func_doc/posting_api.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/multi_turn_func_doc/posting_api.json",
        10573,
        "87f9fc404a06e4107d7c366f1399c596440e84c16cb119faf374b2f532d86e8b",
    ),
    "multi_turn_func_doc/ticket_api.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/multi_turn_func_doc/ticket_api.json",
        6648,
        "31324e0380782664fe82ba05bd23517808ad55692b45a5fe7c3d4d395fe4f0f8",
    ),
    "multi_turn_func_doc/trading_bot.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/multi_turn_func_doc/trading_bot.json",
        12608,
        "1a7933fd8f0cb8fbec38aeae05cb8c24132747cad4904fe1c13ac3d01fc22c2d",
    ),
    "multi_turn_func_doc/travel_booking.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/multi_turn_func_doc/travel_booking.json",
        16979,
        "f17b950c13adddf41d0848077df58788252e4c2e7cad5cfa71c8c4bf04f57b26",
    ),
    "multi_turn_func_doc/vehicle_control.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/multi_turn_func_doc/vehicle_control.json",
        17545,
        "0c8a66292844874ef7b168f343bc394d8615d2d9e1f4387999a9ee23011eac78",
    ),
    "multi_turn_func_doc/web_search.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/multi_turn_func_doc/web_search.json",
        2252,
        "61fcee411e35f7ff67415e18cd67276615cf06e1c8841a683d2d997dbb46eac5",
    ),
    "possible_answer/BFCL_v4_live_multiple.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/possible_answer/BFCL_v4_live_multiple.json",
        199668,
        "97e90d59c5bd76c55a2920ce93e5566e9046307d3f558578f085f9d3a56c3084",
    ),
    "possible_answer/BFCL_v4_live_parallel.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/possible_answer/BFCL_v4_live_parallel.json",
        4972,
        "8a9f189ff0e832ebbbbdade1fd95a7dbcc67406e9177df3f0aad76f59ab00350",
    ),
    "possible_answer/BFCL_v4_live_parallel_multiple.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/possible_answer/BFCL_v4_live_parallel_multiple.json",
        7420,
        "f5b5f360556c5feb51db46fb9f56ee4b304f4b45b161599bbb14161c98a2873f",
    ),
    "possible_answer/BFCL_v4_live_simple.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/possible_answer/BFCL_v4_live_simple.json",
        46972,
        "fec9cfa9744a936f9126981e85a2023da1e63e273eafebc81923a1162fad70ce",
    ),
    "possible_answer/BFCL_v4_memory.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/possible_answer/BFCL_v4_memory.json",
        28325,
        "2355cf8d842f94af6bcb7bfa6ad2f9e472bc6d825d6ecd45702cfc41e27d7e5d",
    ),
    "possible_answer/BFCL_v4_multi_turn_base.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/possible_answer/BFCL_v4_multi_turn_base.json",
        78931,
        "1fee67823b317571649177dd89d63969feaae4e810cc7448ee55ba797fb7c8fc",
    ),
    "possible_answer/BFCL_v4_multi_turn_long_context.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/possible_answer/BFCL_v4_multi_turn_long_context.json",
        114439,
        "e82aa0e839c39d23c64a05834f7ae024d7c9738ec21738ecee78dc876e3d0d18",
    ),
    "possible_answer/BFCL_v4_multi_turn_miss_func.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/possible_answer/BFCL_v4_multi_turn_miss_func.json",
        80589,
        "69e679b806d1c871b05393a4b95583bb973248e5b8d96c2d7f4ca05e29fc32e6",
    ),
    "possible_answer/BFCL_v4_multi_turn_miss_param.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/possible_answer/BFCL_v4_multi_turn_miss_param.json",
        80816,
        "59c442901779e2c31c33abcd566d032e03736e5ad8069de2fe05489873046ecf",
    ),
    "possible_answer/BFCL_v4_multiple.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/possible_answer/BFCL_v4_multiple.json",
        32254,
        "244e00ce9395df948bcafc7bee64e8f9c87ef70887587d83cae45b13699f3047",
    ),
    "possible_answer/BFCL_v4_parallel.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/possible_answer/BFCL_v4_parallel.json",
        66005,
        "8a6aa19c1adddc6a5a2f7e40f9dbf30cc7e95815e7b830c90589ab318229e0f0",
    ),
    "possible_answer/BFCL_v4_parallel_multiple.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/possible_answer/BFCL_v4_parallel_multiple.json",
        74602,
        "5ebf24f458c1f16300c05505d83d6f0a1b68b79be273a033febd0d4f840507e3",
    ),
    "possible_answer/BFCL_v4_simple_java.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/possible_answer/BFCL_v4_simple_java.json",
        16407,
        "78f25616084044fa05bbfcee68e03f6ececb222bdd5cb3b7783a675fb3366e35",
    ),
    "possible_answer/BFCL_v4_simple_javascript.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/possible_answer/BFCL_v4_simple_javascript.json",
        7881,
        "e2f9f2e51d88e0c8056ffbf1a3dd3d02eb032532d2b5d98c9cc9003385bdd56b",
    ),
    "possible_answer/BFCL_v4_simple_python.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/possible_answer/BFCL_v4_simple_python.json",
        63627,
        "90cd5bc653690ee8e459b5b3f3fc9458606f7f3fcbf795bb51b7dc581f8c86dc",
    ),
    "possible_answer/BFCL_v4_web_search.json": (
        "berkeley-function-call-leaderboard/bfcl_eval/data/possible_answer/BFCL_v4_web_search.json",
        75962,
        "771cab45fdad5744563456801d4623a42c5a358f10514b9b9105d2f6052b4999",
    ),
}
