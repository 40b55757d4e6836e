"""`ac=ScheduleCsvImport` and `ac=GetImportResult` (spec §3.5, §4): every option and row rule."""

from __future__ import annotations

FULL_HEADER = "メールアドレス,氏名,ふりがな,都道府県,関心,誕生日,購入回数,単価,備考,性別,資格,カナ,会員番号,郵便番号"


def test_register_creates_customers_with_every_item_type(hh):
    hh.setup()
    text = hh.csv(
        FULL_HEADER,
        'taro@example.jp,山田 太郎,やまだ　たろう,東京都,"料金,セミナー",1990/5/1,12,-3.25,'
        '"一行目\r\n二行目",男性,"B,A",ヤマダ,AB12,1500001',
    )
    result = hh.run_import(text, import_type="0")
    assert (result["state"], result["total"], result["inserted"], result["failed"]) == (
        "completed",
        1,
        1,
        0,
    )
    values = hh.customer("taro@example.jp")["values"]
    assert values == {
        "氏名": "山田 太郎",
        "ふりがな": "やまだ　たろう",
        "都道府県": "東京都",
        "関心": ["料金", "セミナー"],
        "誕生日": "1990/05/01",
        "購入回数": "12",
        "単価": "-3.25",
        "備考": "一行目\r\n二行目",
        "性別": "男性",
        # Multi-choice values come back in the item's option order.
        "資格": ["A", "B"],
        "カナ": "ヤマダ",
        "会員番号": "AB12",
        "郵便番号": "1500001",
    }


def test_invalid_cells_fail_their_row_with_line_and_message(hh):
    hh.setup()
    text = hh.csv(
        "メールアドレス,ふりがな,都道府県,関心,誕生日,購入回数,単価,性別,カナ,会員番号,郵便番号,氏名",
        "ok@example.jp,やまだ,東京都,料金,2000/02/29,1,1.5,女性,ヤマダ,a1,123,正常",
        "h@example.jp,ヤマダ,,,,,,,,,,",
        "s@example.jp,,京都府,,,,,,,,,",
        "c@example.jp,,,料金;資料,,,,,,,,",
        "d@example.jp,,,,2023/02/29,,,,,,,",
        "i@example.jp,,,,,１２,,,,,,",
        "f@example.jp,,,,,,1.,,,,,",
        "r@example.jp,,,,,,,不明,,,,",
        "k@example.jp,,,,,,,,やまだ,,,",
        "a@example.jp,,,,,,,,,Ａ1,,",
        "n@example.jp,,,,,,,,,,12-3,",
        '"nl@example.jp",,,,,,,,,,,"改行\n入り"',
        "long@example.jp,,,,,,,,,,," + "あ" * 901,
        "bad-address,,,,,,,,,,,",
        ",,,,,,,,,,,名無し",
        "few@example.jp,やまだ",
    )
    result = hh.run_import(text, import_type="0")
    assert result["inserted"] == 1
    assert result["failed"] == 15
    messages = {error["line"]: error["message"] for error in result["errors"]}
    assert messages == {
        3: "ふりがな: 全角ひらがなで入力してください",
        4: "都道府県: 選択肢にない値です（京都府）",
        5: "関心: 選択肢にない値です（料金;資料）",
        6: "誕生日: 日付の形式が正しくありません（YYYY/MM/DD）",
        7: "購入回数: 半角数字（整数）で入力してください",
        8: "単価: 半角数字（小数）で入力してください",
        9: "性別: 選択肢にない値です（不明）",
        10: "カナ: 全角カタカナで入力してください",
        11: "会員番号: 半角英数字で入力してください",
        12: "郵便番号: 半角数字で入力してください",
        13: "氏名: 改行は入力できません",
        15: "氏名: 900文字以内で入力してください",
        16: "メールアドレスの形式が正しくありません",
        17: "メールアドレスが入力されていません",
        18: "項目数がヘッダー行と一致しません（ヘッダー12項目、データ2項目）",
    }
    first = result["errors"][0]
    assert first["email"] == "h@example.jp"
    assert first["content"] == '"h@example.jp","ヤマダ","","","","","","","","","",""'
    assert hh.customer("h@example.jp", expect=404)["error"]


def test_duplicate_address_in_one_file_keeps_the_first(hh):
    hh.setup()
    text = hh.csv(
        "メールアドレス,氏名", "dup@example.jp,一回目", "x@example.jp,別人", "dup@EXAMPLE.jp,二回目"
    )
    result = hh.run_import(text, import_type="0")
    assert (result["inserted"], result["failed"]) == (2, 1)
    assert result["errors"][0]["line"] == 4
    assert result["errors"][0]["message"] == "ファイル内でメールアドレスが重複しています（2行目）"
    assert hh.customer("dup@example.jp")["values"]["氏名"] == "一回目"


def test_email_key_is_case_insensitive_in_the_domain_only(hh):
    hh.setup()
    hh.run_import(hh.csv("メールアドレス,氏名", "Taro@Example.JP,太郎"), import_type="0")
    result = hh.run_import(
        hh.csv("メールアドレス,氏名", "Taro@example.jp,上書き", "taro@example.jp,別人"),
        import_type="0",
        is_overwrite="1",
    )
    assert (result["updated"], result["inserted"]) == (1, 1)
    same = hh.customer("Taro@EXAMPLE.jp")
    assert same["email"] == "Taro@Example.JP"
    assert same["values"]["氏名"] == "上書き"
    assert hh.customer("taro@example.jp")["values"]["氏名"] == "別人"


def test_existing_customer_without_overwrite_is_skipped(hh):
    hh.setup()
    hh.customers([{"email": "a@example.jp", "values": {"氏名": "元の名前", "購入回数": "3"}}])
    result = hh.run_import(
        hh.csv("メールアドレス,氏名,購入回数", "a@example.jp,新しい名前,x"), import_type="0"
    )
    assert (result["skipped"], result["updated"], result["failed"]) == (1, 0, 0)
    assert hh.customer("a@example.jp")["values"]["氏名"] == "元の名前"


def test_overwrite_keeps_blank_cells_by_default(hh):
    hh.setup()
    hh.customers([{"email": "a@example.jp", "values": {"氏名": "元の名前", "購入回数": "3"}}])
    result = hh.run_import(
        hh.csv("メールアドレス,氏名,購入回数", "a@example.jp,新しい名前,"),
        import_type="0",
        is_overwrite="1",
    )
    assert result["updated"] == 1
    values = hh.customer("a@example.jp")["values"]
    assert (values["氏名"], values["購入回数"]) == ("新しい名前", "3")


def test_blank_overwrite_clears_values(hh):
    hh.setup()
    hh.customers(
        [
            {
                "email": "a@example.jp",
                "values": {"氏名": "元の名前", "購入回数": "3", "関心": ["料金"]},
            }
        ]
    )
    result = hh.run_import(
        hh.csv("メールアドレス,氏名,購入回数,関心", "a@example.jp,新しい名前,,"),
        import_type="0",
        is_overwrite="1",
        blank_overwrite="1",
    )
    assert result["updated"] == 1
    values = hh.customer("a@example.jp")["values"]
    assert (values["氏名"], values["購入回数"], values["関心"]) == ("新しい名前", "", [])


def test_blank_overwrite_without_overwrite_is_ignored(hh):
    hh.setup()
    hh.customers([{"email": "a@example.jp", "values": {"購入回数": "3"}}])
    result = hh.run_import(
        hh.csv("メールアドレス,購入回数", "a@example.jp,"), import_type="0", blank_overwrite="1"
    )
    assert result["skipped"] == 1 and result["blank_overwrite"] == 0
    assert hh.customer("a@example.jp")["values"]["購入回数"] == "3"


def test_required_items_must_be_present_on_creation_and_cannot_be_blanked(hh):
    hh.setup()
    hh.admin("PATCH", "accounts/m12345/items/I2", {"required": True})
    result = hh.run_import(
        hh.csv("メールアドレス,氏名,購入回数", "a@example.jp,,1", "b@example.jp,佐藤,2"),
        import_type="0",
    )
    assert (result["inserted"], result["failed"]) == (1, 1)
    assert result["errors"][0]["message"] == "氏名: 必須項目です"
    missing_column = hh.run_import(hh.csv("メールアドレス", "c@example.jp"), import_type="0")
    assert missing_column["errors"][0]["message"] == "氏名: 必須項目です"
    blanking = hh.run_import(
        hh.csv("メールアドレス,氏名", "b@example.jp,"),
        import_type="0",
        is_overwrite="1",
        blank_overwrite="1",
    )
    assert blanking["failed"] == 1
    assert hh.customer("b@example.jp")["values"]["氏名"] == "佐藤"


def test_register_into_group_starts_deliverable_and_keeps_existing_states(hh):
    hh.setup()
    hh.customers(
        [
            {"email": "stopped@example.jp", "memberships": [{"gid": "1", "state": "stop"}]},
            {"email": "dbonly@example.jp"},
        ]
    )
    result = hh.run_import(
        hh.csv(
            "メールアドレス,氏名",
            "new@example.jp,新規",
            "stopped@example.jp,停止中",
            "dbonly@example.jp,DBのみ",
        ),
        import_type="0",
        gid="1",
    )
    assert (result["inserted"], result["updated"], result["skipped"]) == (1, 1, 1)
    assert hh.states("new@example.jp") == {("group", "1"): "ok"}
    # Registering again never lifts an opt-out.
    assert hh.states("stopped@example.jp") == {("group", "1"): "stop"}
    assert hh.states("dbonly@example.jp") == {("group", "1"): "ok"}
    assert hh.customer("dbonly@example.jp")["values"]["氏名"] == ""


def test_register_into_step_plan_with_start_date_column(hh):
    hh.setup()
    hh.config(now="2025-06-01 10:00:00")
    result = hh.run_import(
        hh.csv("メールアドレス,ステップ開始日", "a@example.jp,2025-07-01", "b@example.jp,"),
        import_type="0",
        spid="10",
    )
    assert result["inserted"] == 2
    [a] = hh.customer("a@example.jp")["memberships"]
    assert (a["type"], a["id"], a["state"], a["step_start_date"]) == (
        "step",
        "10",
        "ok",
        "2025/07/01",
    )
    [b] = hh.customer("b@example.jp")["memberships"]
    assert b["step_start_date"] == "2025/06/01"
    bad = hh.run_import(
        hh.csv("メールアドレス,ステップ開始日", "c@example.jp,7月1日"), import_type="0", spid="10"
    )
    assert (
        bad["errors"][0]["message"] == "ステップ開始日: 日付の形式が正しくありません（YYYY/MM/DD）"
    )


def test_start_date_plan_requires_the_column(hh):
    hh.setup()
    result = hh.run_import(
        hh.csv("メールアドレス,ステップ開始日", "a@example.jp,2025/07/01", "b@example.jp,"),
        import_type="0",
        spid="11",
    )
    assert (result["inserted"], result["failed"]) == (1, 1)
    assert result["errors"][0]["message"] == "ステップ開始日: このステップメールプランでは必須です"


def test_delete_removes_customer_and_all_memberships(hh):
    hh.setup()
    hh.customers(
        [
            {
                "email": "a@example.jp",
                "values": {"氏名": "削除対象"},
                "memberships": [{"gid": "1", "state": "stop"}, {"spid": "10"}],
            },
            {"email": "keep@example.jp"},
        ]
    )
    result = hh.run_import(
        hh.csv("メールアドレス", "a@example.jp", "ghost@example.jp"), import_type="1"
    )
    assert (result["deleted"], result["failed"]) == (1, 1)
    assert result["errors"][0]["message"] == "登録されていないメールアドレスです"
    hh.customer("a@example.jp", expect=404)
    assert hh.ok("GetDeliveryStateList")["total"] == 0
    assert [g["member_count"] for g in hh.ok("GetGroupList")["items"]] == [0, 0]


def test_delete_file_needs_only_the_email_column_and_ignores_others(hh):
    hh.setup()
    hh.customers([{"email": "a@example.jp"}])
    result = hh.run_import(hh.csv("メールアドレス,氏名", "a@example.jp,何でも"), import_type="1")
    assert result["deleted"] == 1


def test_delete_with_target_removes_only_the_membership(hh):
    hh.setup()
    hh.customers(
        [
            {"email": "a@example.jp", "memberships": [{"gid": "1"}, {"gid": "2"}]},
            {"email": "b@example.jp"},
        ]
    )
    result = hh.run_import(
        hh.csv("メールアドレス", "a@example.jp", "b@example.jp"), import_type="1", gid="1"
    )
    assert (result["deleted"], result["failed"]) == (1, 1)
    assert result["errors"][0]["message"] == (
        "対象の配信グループ・ステップメールプランに登録されていません"
    )
    assert hh.states("a@example.jp") == {("group", "2"): "ok"}


def test_delete_with_target_can_be_switched_to_full_deletion(hh):
    hh.setup()
    hh.config(delete_with_target_removes_membership_only=False)
    hh.customers([{"email": "a@example.jp", "memberships": [{"gid": "1"}, {"gid": "2"}]}])
    result = hh.run_import(hh.csv("メールアドレス", "a@example.jp"), import_type="1", gid="1")
    assert result["deleted"] == 1
    hh.customer("a@example.jp", expect=404)


def test_stop_and_ban_set_states_and_register_non_members(hh):
    hh.setup()
    hh.customers(
        [
            {"email": "member@example.jp", "memberships": [{"gid": "1"}]},
            {"email": "outsider@example.jp"},
        ]
    )
    stop = hh.run_import(
        hh.csv("メールアドレス", "member@example.jp", "outsider@example.jp", "nobody@example.jp"),
        import_type="2",
        gid="1",
    )
    assert (stop["state_changed"], stop["failed"]) == (2, 1)
    assert stop["errors"][0]["message"] == "登録されていないメールアドレスです"
    assert hh.states("member@example.jp") == {("group", "1"): "stop"}
    assert hh.states("outsider@example.jp") == {("group", "1"): "stop"}
    hh.customer("nobody@example.jp", expect=404)
    again = hh.run_import(hh.csv("メールアドレス", "member@example.jp"), import_type="2", gid="1")
    assert (again["state_changed"], again["skipped"]) == (0, 1)
    ban = hh.run_import(hh.csv("メールアドレス", "member@example.jp"), import_type="3", spid="10")
    assert ban["state_changed"] == 1
    assert hh.states("member@example.jp") == {("group", "1"): "stop", ("step", "10"): "ban"}


def test_state_change_ignores_attribute_columns_and_overwrite(hh):
    hh.setup()
    hh.customers([{"email": "a@example.jp", "values": {"氏名": "元"}}])
    result = hh.run_import(
        hh.csv("メールアドレス,氏名", "a@example.jp,変更"),
        import_type="3",
        gid="1",
        is_overwrite="1",
    )
    assert result["is_overwrite"] == 0 and result["state_changed"] == 1
    assert hh.customer("a@example.jp")["values"]["氏名"] == "元"


def test_enable_creates_unknown_customers_and_lifts_stop_and_ban(hh):
    hh.setup()
    hh.customers(
        [
            {"email": "stop@example.jp", "memberships": [{"gid": "1", "state": "stop"}]},
            {"email": "ban@example.jp", "memberships": [{"gid": "1", "state": "ban"}]},
        ]
    )
    result = hh.run_import(
        hh.csv("メールアドレス,氏名", "stop@example.jp,", "ban@example.jp,", "new@example.jp,新規"),
        import_type="5",
        gid="1",
    )
    assert (result["state_changed"], result["inserted"]) == (2, 1)
    assert hh.states("stop@example.jp") == {("group", "1"): "ok"}
    assert hh.states("ban@example.jp") == {("group", "1"): "ok"}
    new = hh.customer("new@example.jp")
    assert new["values"]["氏名"] == "新規"
    assert [(m["id"], m["state"]) for m in new["memberships"]] == [("1", "ok")]


def test_enable_with_overwrite_updates_attributes(hh):
    hh.setup()
    hh.customers(
        [
            {
                "email": "a@example.jp",
                "values": {"氏名": "元", "購入回数": "5"},
                "memberships": [{"gid": "1"}],
            }
        ]
    )
    kept = hh.run_import(
        hh.csv("メールアドレス,氏名", "a@example.jp,無視"), import_type="5", gid="1"
    )
    assert kept["skipped"] == 1
    assert hh.customer("a@example.jp")["values"]["氏名"] == "元"
    result = hh.run_import(
        hh.csv("メールアドレス,氏名,購入回数", "a@example.jp,上書き,"),
        import_type="5",
        gid="1",
        is_overwrite="1",
        blank_overwrite="1",
    )
    assert result["updated"] == 1
    values = hh.customer("a@example.jp")["values"]
    assert (values["氏名"], values["購入回数"]) == ("上書き", "")


def test_status_change_type_1_stops_members_missing_from_the_file_but_not_banned(hh):
    hh.setup()
    hh.customers(
        [
            {"email": "in@example.jp", "memberships": [{"gid": "1", "state": "stop"}]},
            {"email": "out@example.jp", "memberships": [{"gid": "1"}, {"gid": "2"}]},
            {"email": "banned@example.jp", "memberships": [{"gid": "1", "state": "ban"}]},
            {"email": "other@example.jp", "memberships": [{"gid": "2"}]},
        ]
    )
    result = hh.run_import(
        hh.csv("メールアドレス", "in@example.jp", "new@example.jp"),
        import_type="0",
        gid="1",
        status_change="1",
        status_change_type="1",
    )
    assert (result["inserted"], result["skipped"]) == (1, 1)
    assert (result["stopped_by_status_change"], result["enabled_by_status_change"]) == (1, 0)
    assert result["state_changed"] == 1
    assert hh.states("out@example.jp") == {("group", "1"): "stop", ("group", "2"): "ok"}
    assert hh.states("banned@example.jp") == {("group", "1"): "ban"}
    assert hh.states("in@example.jp") == {("group", "1"): "stop"}
    assert hh.states("new@example.jp") == {("group", "1"): "ok"}
    assert hh.states("other@example.jp") == {("group", "2"): "ok"}
    stopped = hh.customer("out@example.jp")["memberships"][0]
    assert stopped["reason"] == "api"


def test_status_change_type_2_enables_file_customers_but_not_banned(hh):
    hh.setup()
    hh.customers(
        [
            {"email": "stop@example.jp", "memberships": [{"gid": "1", "state": "stop"}]},
            {"email": "ban@example.jp", "memberships": [{"gid": "1", "state": "ban"}]},
            {"email": "absent@example.jp", "memberships": [{"gid": "1"}]},
        ]
    )
    result = hh.run_import(
        hh.csv("メールアドレス", "stop@example.jp", "ban@example.jp"),
        import_type="0",
        gid="1",
        status_change="1",
        status_change_type="2",
    )
    assert (result["stopped_by_status_change"], result["enabled_by_status_change"]) == (0, 1)
    assert hh.states("stop@example.jp") == {("group", "1"): "ok"}
    assert hh.states("ban@example.jp") == {("group", "1"): "ban"}
    assert hh.states("absent@example.jp") == {("group", "1"): "ok"}


def test_status_change_type_3_does_both(hh):
    hh.setup()
    hh.customers(
        [
            {"email": "stop@example.jp", "memberships": [{"spid": "10", "state": "stop"}]},
            {"email": "absent@example.jp", "memberships": [{"spid": "10"}]},
        ]
    )
    result = hh.run_import(
        hh.csv("メールアドレス", "stop@example.jp"),
        import_type="0",
        spid="10",
        status_change="1",
        status_change_type="3",
    )
    assert (result["stopped_by_status_change"], result["enabled_by_status_change"]) == (1, 1)
    assert hh.states("stop@example.jp") == {("step", "10"): "ok"}
    assert hh.states("absent@example.jp") == {("step", "10"): "stop"}


def test_status_change_without_target_is_type_1_over_all_memberships(hh):
    hh.setup()
    hh.customers(
        [
            {"email": "in@example.jp", "memberships": [{"gid": "1", "state": "stop"}]},
            {"email": "out@example.jp", "memberships": [{"gid": "1"}, {"spid": "10"}]},
            {"email": "banned@example.jp", "memberships": [{"gid": "2", "state": "ban"}]},
        ]
    )
    result = hh.run_import(
        hh.csv("メールアドレス", "in@example.jp"),
        import_type="0",
        status_change="1",
        status_change_type="3",
    )
    assert result["status_change_type"] == 1
    assert result["stopped_by_status_change"] == 2
    assert hh.states("out@example.jp") == {("group", "1"): "stop", ("step", "10"): "stop"}
    assert hh.states("in@example.jp") == {("group", "1"): "stop"}
    assert hh.states("banned@example.jp") == {("group", "2"): "ban"}


def test_status_change_counts_rows_with_bad_cells_as_in_the_file(hh):
    hh.setup()
    hh.customers([{"email": "a@example.jp", "memberships": [{"gid": "1"}]}])
    result = hh.run_import(
        hh.csv("メールアドレス,ふりがな", "a@example.jp,カタカナ"),
        import_type="0",
        gid="1",
        is_overwrite="1",
        status_change="1",
        status_change_type="1",
    )
    assert result["failed"] == 1 and result["stopped_by_status_change"] == 0
    assert hh.states("a@example.jp") == {("group", "1"): "ok"}


def test_status_change_can_be_allowed_to_touch_ban(hh):
    hh.setup()
    hh.config(status_change_spares_ban=False)
    hh.customers(
        [
            {"email": "ban-in@example.jp", "memberships": [{"gid": "1", "state": "ban"}]},
            {"email": "ban-out@example.jp", "memberships": [{"gid": "1", "state": "ban"}]},
        ]
    )
    hh.run_import(
        hh.csv("メールアドレス", "ban-in@example.jp"),
        import_type="0",
        gid="1",
        status_change="1",
        status_change_type="3",
    )
    assert hh.states("ban-in@example.jp") == {("group", "1"): "ok"}
    assert hh.states("ban-out@example.jp") == {("group", "1"): "stop"}


def test_status_change_is_ignored_for_other_import_types(hh):
    hh.setup()
    hh.customers([{"email": "other@example.jp", "memberships": [{"gid": "1"}]}])
    result = hh.run_import(
        hh.csv("メールアドレス", "x@example.jp"),
        import_type="5",
        gid="1",
        status_change="1",
        status_change_type="1",
    )
    assert result["status_change"] == 0
    assert hh.states("other@example.jp") == {("group", "1"): "ok"}


def test_report_option_1_mails_the_login_users_address(hh):
    hh.setup()
    result = hh.run_import(
        hh.csv("メールアドレス", "a@example.jp"), import_type="0", report_option="1"
    )
    [mail] = hh.outbox()
    assert mail["to"] == "ops@example.jp"
    assert mail["subject"] == "【配配メール】CSV一括登録・削除の処理結果"
    assert mail["job_id"] == result["job_id"]
    assert "処理件数: 1件" in mail["body"] and "登録: 1件" in mail["body"]
    assert "エラー: 0件" in mail["body"]


def test_report_option_2_mails_only_on_errors_and_lists_them(hh):
    hh.setup()
    hh.admin("PATCH", "accounts/m12345/users/api-user", {"email": "changed@example.jp"})
    hh.run_import(hh.csv("メールアドレス", "a@example.jp"), import_type="0", report_option="2")
    assert hh.outbox() == []
    hh.run_import(
        hh.csv("メールアドレス,購入回数", "b@example.jp,x"), import_type="0", report_option="2"
    )
    [mail] = hh.outbox()
    assert mail["to"] == "changed@example.jp"
    assert "2行目: b@example.jp 購入回数: 半角数字（整数）で入力してください" in mail["body"]


def test_report_option_0_sends_nothing(hh):
    hh.setup()
    hh.run_import(hh.csv("メールアドレス,購入回数", "b@example.jp,x"), import_type="0")
    assert hh.outbox() == []


def test_charsets_utf8_with_bom_shift_jis_default_and_euc_jp(hh):
    hh.setup()
    text = hh.csv("メールアドレス,氏名", "a@example.jp,髙橋")
    files = {"csvfile": ("u.csv", b"\xef\xbb\xbf" + text.encode("utf-8"))}
    response = hh.call("ScheduleCsvImport", files=files, import_type="0", charset="1")
    assert response.status_code == 202
    hh.wait(response.json()["data"]["job_id"])
    assert hh.customer("a@example.jp")["values"]["氏名"] == "髙橋"
    result = hh.run_import(
        hh.csv("メールアドレス,氏名", "b@example.jp,渡辺"), encoding="cp932", import_type="0"
    )
    assert result["charset"] == 2
    assert hh.customer("b@example.jp")["values"]["氏名"] == "渡辺"
    hh.run_import(
        hh.csv("メールアドレス,氏名", "c@example.jp,斎藤"),
        encoding="euc_jp",
        import_type="0",
        charset="3",
    )
    assert hh.customer("c@example.jp")["values"]["氏名"] == "斎藤"


def test_undecodable_file_is_refused_without_counting(hh):
    hh.setup()
    hh.config(daily_limits={"ScheduleCsvImport/register": 1})
    text = hh.csv("mail,name", "a@example.jp,髙橋")
    response = hh.submit(text, encoding="utf-8", import_type="0")
    body = response.json()
    assert response.status_code == 422 and body["code"] == 81422
    assert body["status"] == "csv format error"
    assert body["message"] == "CSVファイルをShift_JISとして読み込めません（2行目）"
    # UTF-8 Japanese that happens to be valid cp932 decodes to mojibake: no email column.
    mojibake = hh.submit(
        hh.csv("メールアドレス", "a@example.jp"), encoding="utf-8", import_type="0"
    )
    assert mojibake.json()["message"] == "メールアドレス項目「メールアドレス」の列がありません"
    good = hh.csv("メールアドレス,氏名", "a@example.jp,髙橋")
    assert hh.submit(good, encoding="cp932", import_type="0").status_code == 202
    assert hh.submit(good, encoding="cp932", import_type="0").json()["code"] == 81404


def test_header_errors_are_refused(hh):
    hh.setup()
    cases = {
        "氏名\r\n山田\r\n": "メールアドレス項目「メールアドレス」の列がありません",
        "メールアドレス,氏名,氏名\r\na@example.jp,a,b\r\n": "ヘッダー行に重複した項目名があります: 氏名",
        "メールアドレス,存在しない\r\na@example.jp,x\r\n": "存在しない項目名です: 存在しない",
        "\r\n\r\n": "CSVファイルにヘッダー行がありません",
    }
    for text, message in cases.items():
        response = hh.submit(text, import_type="0")
        body = response.json()
        assert (response.status_code, body["code"], body["message"]) == (422, 81422, message)
    assert hh.admin("GET", "jobs", params={"account": "m12345"})["jobs"] == []


def test_unknown_columns_are_ignored_when_not_strict(hh):
    hh.setup(strict_csv=False)
    result = hh.run_import(
        hh.csv("メールアドレス,存在しない,氏名", "a@example.jp,x,山田"), import_type="0"
    )
    assert result["ignored_columns"] == ["存在しない"]
    assert hh.customer("a@example.jp")["values"]["氏名"] == "山田"


def test_renamed_email_item_must_be_used_as_header(hh):
    hh.setup(email_label="E-mail")
    response = hh.submit(hh.csv("メールアドレス,氏名", "a@example.jp,山田"), import_type="0")
    assert response.json()["message"] == "メールアドレス項目「E-mail」の列がありません"
    result = hh.run_import(hh.csv("E-mail,氏名", "a@example.jp,山田"), import_type="0")
    assert result["inserted"] == 1
    hh.admin("PATCH", "accounts/m12345/items/I1", {"label": "連絡先メール"})
    result = hh.run_import(hh.csv("連絡先メール", "b@example.jp"), import_type="0")
    assert result["inserted"] == 1


def test_file_over_15_mb_is_refused(hh):
    hh.setup()
    header = "メールアドレス,備考\r\n".encode("cp932")
    filler = b"a@example.jp," + b"x" * (15 * 1024 * 1024 - len(header) - 13)
    exact = header + filler
    assert len(exact) == 15 * 1024 * 1024
    too_big = hh.call(
        "ScheduleCsvImport", files={"csvfile": ("big.csv", exact + b"x")}, import_type="0"
    )
    body = too_big.json()
    assert (too_big.status_code, body["code"], body["status"]) == (413, 81413, "file too large")
    at_limit = hh.call("ScheduleCsvImport", files={"csvfile": ("big.csv", exact)}, import_type="0")
    assert at_limit.status_code == 202
    result = hh.wait(at_limit.json()["data"]["job_id"])
    # The 900-character cap still applies to the one huge cell.
    assert result["failed"] == 1


def test_parameter_errors(hh):
    hh.setup()
    text = hh.csv("メールアドレス", "a@example.jp")
    cases = [
        ({}, 400, "import_type を指定してください"),
        ({"import_type": "4"}, 400, "import_type は 0, 1, 2, 3, 5 のいずれかを指定してください"),
        ({"import_type": "2"}, 400, "停止・禁止・可能では gid または spid が必要です"),
        ({"import_type": "0", "gid": "1", "spid": "10"}, 400, "gid と spid は同時に指定できません"),
        ({"import_type": "0", "gid": "99"}, 404, "配信グループが存在しません（gid=99）"),
        ({"import_type": "5", "spid": "99"}, 404, "ステップメールプランが存在しません（spid=99）"),
        (
            {"import_type": "0", "status_change": "1"},
            400,
            "status_change=1 では status_change_type が必要です",
        ),
        ({"import_type": "0", "status_change": "1", "status_change_type": "4"}, 400, None),
        (
            {"import_type": "0", "is_overwrite": "yes"},
            400,
            "is_overwrite は 0 または 1 を指定してください",
        ),
        ({"import_type": "0", "report_option": "3"}, 400, None),
        (
            {"import_type": "0", "charset": "9"},
            400,
            "charset は 1, 2, 3 のいずれかを指定してください",
        ),
    ]
    for params, status, message in cases:
        response = hh.submit(text, **params)
        body = response.json()
        assert response.status_code == status, (params, body)
        assert body["code"] == (81410 if status == 404 else 81400)
        if message:
            assert body["message"] == message
    no_file = hh.call("ScheduleCsvImport", import_type="0")
    assert no_file.json()["message"] == "csvfile を指定してください"


def test_queued_job_waits_for_the_processing_delay_in_sandbox_time(hh):
    hh.setup()
    hh.config(now="2025-01-10 09:00:00", import_delay_seconds=120)
    response = hh.submit(hh.csv("メールアドレス", "a@example.jp"), import_type="0")
    accepted = response.json()["data"]
    assert accepted["job_id"] == "J20250110-000001"
    assert accepted["accepted_at"] == "2025-01-10 09:00:00"
    assert accepted["row_count"] == 1
    status = hh.ok("GetImportResult", job_id=accepted["job_id"])
    assert status["state"] == "queued" and status["finished_at"] is None
    hh.customer("a@example.jp", expect=404)
    hh.config(advance_seconds=121)
    done = hh.wait(accepted["job_id"])
    assert done["state"] == "completed" and done["finished_at"] == "2025-01-10 09:02:01"
    second = hh.submit(hh.csv("メールアドレス", "b@example.jp"), import_type="0").json()["data"]
    assert second["job_id"] == "J20250110-000002"
    forced = hh.admin("POST", "jobs/run", {"account": "m12345"})
    assert [job["state"] for job in forced["jobs"]] == ["completed"]
    assert hh.customer("b@example.jp")["customer_id"] == 2


def test_import_result_errors_are_paged_and_unknown_jobs_are_not_found(hh):
    hh.setup()
    rows = [f"bad{i}@@example.jp" for i in range(5)]
    result = hh.run_import(hh.csv("メールアドレス", *rows), import_type="0")
    assert result["error_total"] == 5 and len(result["errors"]) == 5
    page = hh.ok("GetImportResult", job_id=result["job_id"], offset="3", limit="10")
    assert [error["line"] for error in page["errors"]] == [5, 6]
    hh.error("GetImportResult", 404, 81410, job_id="J20000101-000001")
    hh.error("GetImportResult", 400, 81400)


def test_blank_lines_are_skipped_and_quoted_newlines_keep_line_numbers(hh):
    hh.setup()
    text = 'メールアドレス,備考\r\n\r\na@example.jp,"1\r\n2\r\n3"\r\n,\r\nbad,x\r\n'
    result = hh.run_import(text, import_type="0")
    assert (result["total"], result["inserted"], result["failed"]) == (2, 1, 1)
    assert result["errors"][0]["line"] == 7
    assert hh.customer("a@example.jp")["values"]["備考"] == "1\r\n2\r\n3"


def test_job_fails_when_its_group_is_deleted_before_processing(hh):
    hh.setup()
    hh.config(now="2025-01-10 09:00:00", import_delay_seconds=60)
    response = hh.submit(
        hh.csv("メールアドレス", "a@example.jp"), import_type="0", gid="2", report_option="2"
    )
    job_id = response.json()["data"]["job_id"]
    hh.admin("DELETE", "accounts/m12345/groups/2")
    hh.config(advance_seconds=60)
    job = hh.wait(job_id)
    assert (job["state"], job["inserted"]) == ("failed", 0)
    assert job["message"] == "対象の配信グループ・ステップメールプランが存在しません"
    result = hh.ok("GetImportResult", job_id=job_id)
    assert result["state"] == "failed" and result["total"] == 1
    [mail] = hh.outbox()
    assert "CSV一括登録・削除の処理が失敗しました。" in mail["body"]
    hh.customer("a@example.jp", expect=404)
