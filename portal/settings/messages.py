"""Every Japanese text the 連携設定 page shows, in one place (quoted from the manual where it has one)."""

from __future__ import annotations

# --- manual §2.1.3 -----------------------------------------------------------------------------
REQUIRED = "入力してください"
HAIHAI_URL_FORMAT = (
    "正しい配配メールURLではありません。https://xxxx.hm-f.jp/mXXXXX/の形式で入力してください。"
)
ONE_KINTONE_TO_MANY = "1つのkintone項目を、複数の配配メール項目へ連携することはできません。"
MANY_KINTONE_TO_ONE = "複数のkintone項目を、同一の配配メール項目へ連携することはできません。"

# --- manual 付録6.1 / 6.2 (同期結果詳細) -------------------------------------------------------
KINTONE_DRIFT_HEADLINE = (
    "前回の同期タイミング以降に、kintone項目が変更されています。再度設定を確認してください。"
)
KINTONE_FIELD_DELETED = "kintoneから項目が削除されているため、コネクタ設定から削除されました。"
KINTONE_FIELD_CHANGED = "kintone項目の設定が変更されているため、コネクタ設定から削除されました。"
HAIHAI_DRIFT_HEADLINE = (
    "前回の同期タイミング以降に、配配メールの設定が変更されています。"
    "再度配配メールコネクタの設定を確認してください。"
)
HAIHAI_ITEM_DELETED = (
    "配配メールから項目が削除されているため、連携先配配メール項目の指定がクリアされました。"
)
HAIHAI_GROUP_DELETED = (
    "配配メールから配信グループが削除されているため、配信グループIDの指定がクリアされました。"
)
HAIHAI_STEP_PLAN_DELETED = "配配メールからステップメールが削除されているため、ステップメールプランIDの指定がクリアされました。"
HAIHAI_FORM_DELETED = "配配メールからフォームが削除されているため、Bridgeフォーム連携のフォームの指定がクリアされました。"

# Dialog headings and column titles of 付録6.
GROUP_MAPPINGS = "連携項目"
HEADER_KINTONE_FIELD = "kintone項目名"
HEADER_HAIHAI_ITEM = "配配メール項目名"
HEADER_ERROR = "エラー内容"
HEADER_NAME = "名称"
HEADER_ID = "ID"

# --- portal-specific messages (the manual has none) --------------------------------------------
NAME_TOO_LONG = "100文字以内で入力してください。"
TEXT_TOO_LONG = "255文字以内で入力してください。"
CHOOSE_METHOD = "連携設定方法を選択してください。"
HAIHAI_SYNC_NEEDED = "「配配メール設定の同期」を行ってください。"
HAIHAI_SYNC_STALE = "配配メールURLが変更されています。「配配メール設定の同期」を行ってください。"
KINTONE_SUBDOMAIN_FORMAT = (
    "kintoneサブドメイン名は半角英数字とハイフンで入力してください"
    "（https://●●●●.cybozu.com/ の●●●●の部分）。"
)
KINTONE_APP_ID_FORMAT = "kintone アプリIDは半角数字で入力してください。"
KINTONE_TOKEN_FORMAT = "kintone APIトークンに使用できない文字が含まれています。"
HAIHAI_TOKEN_FORMAT = "APIトークンに使用できない文字が含まれています。"
KINTONE_SUBDOMAIN_FIRST = (
    "「Step3. kintone連携設定」でkintoneサブドメイン名を設定してください。"
    "このアプリは同じサブドメイン内のアプリである必要があります。"
)
KINTONE_SYNC_NEEDED = "「kintone項目の同期」を行ってください。"
KINTONE_SYNC_STALE = (
    "kintoneサブドメイン名またはアプリIDが変更されています。「kintone項目の同期」を行ってください。"
)
EMAIL_FIRST = (
    "最初にメールアドレスが設定されているkintone項目を追加し、配配メールの「メールアドレス」項目と"
    "紐づけてください。"
)
EMAIL_FIELD_TYPE = (
    "メールアドレス項目には、文字列 (1行)またはリンクのkintone項目を選択してください。"
)
EMAIL_ROW_NOT_REMOVABLE = "メールアドレス項目を削除する前に、他の連携項目を削除してください。"
KINTONE_FIELD_UNKNOWN = (
    "kintone項目「{name}」はkintoneアプリに存在しないか、連携できない項目です。"
    "「kintone項目の同期」を行ってください。"
)
HAIHAI_ITEM_REQUIRED_MANUAL = "配配メール項目名を入力してください。"
HAIHAI_ITEM_REQUIRED_SYNCED = "配配メール項目を選択してください。"
EMAIL_ITEM_SYNCED = "メールアドレス項目には、配配メールの「メールアドレス」項目を選択してください。"
NOT_EMAIL_ITEM_SYNCED = (
    "配配メールの「メールアドレス」項目は、メールアドレスのkintone項目にのみ連携できます。"
)
EMAIL_NAME_MISMATCH = (
    "メールアドレス項目の配配メール項目名には、配配メールの「メールアドレス」項目の表示名"
    "「{name}」を入力してください。"
)
CHOOSE_FIELD_TO_ADD = "追加するkintone項目を選択してください。"
VIEW_URL_FIELD_REQUIRED = "連携先のkintone項目を選択してください。"
VIEW_URL_FIELD_TYPE = (
    "連携先には、文字列 (1行)、文字列 (複数行)、リンクのいずれかのkintone項目を選択してください。"
)
VIEW_URL_FIELD_IN_USE = (
    "{use}。顧客閲覧URLで上書きされるため連携先にはできません。"
    "他の連携で使用していないkintone項目を選択してください。"
)
SAVE_FAILED = (
    "入力内容にエラーがあります。各項目のメッセージを確認してください。保存されていません。"
)
SAVED = "保存しました。"
KINTONE_LABEL_RENAMED = (
    "kintone項目「{old}」の表示名が「{new}」に変更されました。"
    "連携設定の表示は自動的に更新されました。"
)

# A token refused on the app of a later Step (Step8 / Step9 name themselves).
KINTONE_APP_AUTH = (
    "kintone APIトークンが正しくありません。kintoneアプリの設定でAPIトークンを確認し、"
    "「{step}」のkintone APIトークンを入力し直してください。"
)
