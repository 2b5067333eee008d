"""The words people read: indicator names, statuses, counting rules and the association's
figures, in Vietnamese first, then English (the dashboard keeps its own copy in its page)."""

LABELS = {
    "vi": {"briefed_members": "Cán bộ, hội viên được quán triệt",
           "adults_titled": "Người lớn đạt danh hiệu Công dân học tập",
           "unit_staff_titled": "Cán bộ, công chức, viên chức, người lao động đạt danh hiệu",
           "titled_with_digital_skills": "Công dân học tập được đào tạo, có kỹ năng số",
           "titled_digitally_proficient": "Công dân học tập thành thạo kỹ năng số",
           "families_recognised": "Gia đình học tập", "clans_recognised": "Dòng họ học tập",
           "communities_recognised": "Cộng đồng học tập",
           "learning_units_recognised": "Đơn vị học tập"},
    "en": {"briefed_members": "Association officials and members briefed",
           "adults_titled": "Adults holding the Learning Citizen title",
           "unit_staff_titled": "Staff of learning units holding the title",
           "titled_with_digital_skills": "Title holders trained, with digital skills",
           "titled_digitally_proficient": "Title holders proficient in digital skills",
           "families_recognised": "Learning families", "clans_recognised": "Learning clans",
           "communities_recognised": "Learning communities",
           "learning_units_recognised": "Learning units"},
}

STATUS_WORDS = {"vi": {"reached": "Đạt", "on_track": "Đúng tiến độ", "behind": "Chậm tiến độ"},
                "en": {"reached": "Reached", "on_track": "On track", "behind": "Behind"}}
POPULATION_WORDS = {
    "vi": {"adults_in_recognised_groups": "Người lớn trong gia đình, dòng họ, cộng đồng học "
                                          "tập đã được công nhận",
           "adults_in_groups": "Người lớn trong gia đình, dòng họ, cộng đồng (đã hoặc chưa "
                               "được công nhận)",
           "all_adults": "Mọi người lớn đã đăng ký"},
    "en": {"adults_in_recognised_groups": "Adults in recognised learning families, clans, "
                                          "communities",
           "adults_in_groups": "Adults in any family, clan or community",
           "all_adults": "Every registered adult"}}
ASSOCIATION_WORDS = {
    "vi": {"commune_association": "Hội Khuyến học cấp xã", "branch": "Chi hội khuyến học",
           "learning_board": "Ban khuyến học", "members": "Cán bộ, hội viên",
           "members_briefed": "Cán bộ, hội viên được quán triệt"},
    "en": {"commune_association": "Commune associations", "branch": "Branches",
           "learning_board": "Learning boards", "members": "Officials and members",
           "members_briefed": "Officials and members briefed"}}
