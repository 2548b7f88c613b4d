# The workspace in Russian: the language it is used in first. Every key here is in en.ftl too
# (a test fails otherwise). Numbers, dates and money come already formatted (allot_i18n::format).

app-name = allot
lang-name = Русский
lang-switch = English

sign-in-title = Вход
sign-in-login = Логин
sign-in-password = Пароль
sign-in-submit = Войти
sign-in-wrong = Неверный логин или пароль.
sign-in-locked = Слишком много неудачных попыток. Попробуйте снова после { $until }.
sign-out = Выйти
signed-in-as = Вы вошли как { $login }

nav-home = Главная
nav-my-clients = Мои клиенты

home-title = Что изменилось
home-since = С вашего прошлого входа ({ $date }):
home-first = Это ваш первый вход: вот последние изменения.
home-gained = { $count ->
    [one] Получен { $shown } клиент
    [few] Получено { $shown } клиента
   *[many] Получено { $shown } клиентов
}
home-lost = { $count ->
    [one] передан { $shown } клиент
    [few] передано { $shown } клиента
   *[many] передано { $shown } клиентов
}
home-nothing = Ничего не изменилось.
home-no-employee = Вы не закреплены ни за одним сотрудником: своих клиентов у вас нет.
column-change = Изменение
change-gained = получен
change-lost = передан

role-admin = руководитель отдела продаж
role-manager = руководитель группы
role-employee = сотрудник

my-clients-title = Мои клиенты
my-clients-count = { $count ->
    [one] { $shown } клиент
    [few] { $shown } клиента
   *[many] { $shown } клиентов
}
my-clients-none = У вас пока нет клиентов.
my-clients-download = Выгрузить в CSV (для Excel)
my-clients-download-xlsx = Выгрузить в Excel (XLSX)

nav-team = Команда
team-title = Команда
team-loads = Нагрузка по ролям
team-chart = Клиентов у сотрудника, по ролям
team-absences = Отсутствия
team-no-absences = Отсутствий нет.
team-absence-new = Отметить отсутствие
absence-employee = Кто отсутствует
absence-first = С какого дня
absence-last = По какой день (включительно)
absence-cover = Кто замещает
absence-cover-peers = распределить между коллегами
absence-submit = Показать план
absence-applied = применено
absence-planned = ждёт плана
column-clients = Клиентов
column-before = Было
column-after = Станет
column-gained = Получит
column-lost = Передаст
plan-title = План изменений на { $date }
plan-apply = Применить план
plan-cancel = Не применять
plan-done = План применён: изменение { $change }.
plan-nothing = План ничего не меняет.
team-leavers = Уходящие сотрудники
team-no-leavers = Уходящих нет.
team-leaver-new = Отметить уход сотрудника
leaver-employee = Кто уходит
leaver-on = Первый день без клиентов
leaver-submit = Показать план передачи
page-of = Страница { $page } из { $pages }
page-prev = ← Назад
page-next = Вперёд →
column-client = Клиент
column-name = Название
column-region = Регион
column-potential = Потенциал
column-role = Роль
column-since = С какого дня
column-why = Почему

client-title = Клиент { $id }
client-attributes = Данные клиента
client-owners-now = Ответственные сейчас
client-no-owners = Сейчас за клиентом никто не закреплён.
client-history = История
client-explanation = Почему так
client-deals = Сделки
client-no-deals = Сделок нет.
column-deal = Сделка
column-employee = Сотрудник
column-to = По какой день
column-cause = Причина
column-by = Кто изменил
column-attribute = Поле
column-value = Значение

cause-new = новый клиент
cause-rule = по правилу
cause-pin = закреплён вручную
cause-cover = замещение на время отсутствия
cause-return = возвращение после отсутствия
cause-leaver = прежний ответственный ушёл
cause-absence = прежний ответственный отсутствовал
cause-rebalance = перераспределение

pins-title = Закрепления
pin-title = Закрепить клиента
pin-role = Роль
pin-employee = Сотрудник (логин сотрудника)
pin-reason = Причина
pin-submit = Закрепить
unpin-submit = Открепить
pin-refused = Не получилось: { $why }
as-of = на { $date }

error-forbidden = Эта страница вам недоступна.
error-not-found = Такой страницы нет.
error-csrf = Форма устарела: обновите страницу и попробуйте ещё раз.

# `allot report` (--lang ru): its CSV and XLSX headers and its charts.
report-col-role = Роль
report-col-employee = Сотрудник
report-col-name = Имя
report-col-clients = Клиентов
report-col-potential = Потенциал
report-col-workload = Нагрузка
report-col-deals = Сделок
report-col-revenue = Выручка
report-col-overlay = Оверлей
report-col-realisation = Реализация
report-money-column = { $column } ({ $currency })
report-group-team = Команда
report-group-territory = Территория
report-sheet-contribution = Вклад
report-sheet-balance = Баланс
report-bal-measure = Показатель
report-bal-min = Мин.
report-bal-max = Макс.
report-bal-ratio = Макс./мин.
report-bal-cv = Коэфф. вариации
report-bal-gini = Джини
report-measure-clients = клиенты
report-measure-potential = потенциал
report-measure-workload = нагрузка
chart-load-title = Роль { $role }: потенциал у сотрудника и засчитанная выручка
chart-revenue-title = Роль { $role }: засчитанная выручка{ $currency } против потенциала
chart-potential-held = потенциал у сотрудника
chart-revenue-credited = засчитанная выручка
chart-realisation = реализация роли

# «Почему этот клиент у Иванова?» — объяснение по правилам (allot explain, карточка клиента).
why-client = клиент { $id }: { $attrs }
why-deal = сделка { $id }: { $attrs }
why-of-client = клиента { $id }: { $attrs }
why-territory = территория: { $path }
why-territory-none = нет
why-role = роль { $role } → { $who } ({ $how })
why-nobody = никто
why-no-rule-client = ни одно правило этой роли не относится к клиентам
why-no-rule-deal = ни одно правило этой роли не относится к сделкам
why-rule-client = правило для клиентов
why-rule-deal = правило для сделок
why-matches = ПОДХОДИТ
why-no = нет
why-yes = да
why-unknown = неизвестно
why-undecided = не решено (нет значения)
why-no-condition = (без условия: подходит всем)
why-attr-value = { $attr } = { $value }
why-attr-missing = { $attr } не задан
why-pinned = закреплён вручную: правила его не переносят
why-sticky = оставлен текущему владельцу: он по-прежнему подходит под сработавшее правило (S1.3)
why-pool = группа правила { $rule } ({ $strategy }), нагрузка в момент выбора:
why-load = нагрузка
why-weight = вес
why-per-weight = на единицу веса
why-chosen = выбран
why-territory-owner = владелец территории клиента в этой роли
why-stored-only = хранится, но схемой не используется: { $attrs }
strategy-balance-potential = поровну по потенциалу
strategy-balance-workload = поровну по трудоёмкости
strategy-balance-count = поровну по числу клиентов
strategy-round-robin = по очереди
how-pinned = закреплён вручную
how-sticky = оставлен: текущий владелец по-прежнему подходит
how-territory-owner = владелец территории
how-named = назначен правилом
how-pool = группа
how-pool-of = группа: { $strategy }
how-via-client = сотрудник клиента
how-unassigned = не назначен: { $reason }
unavailable-inactive = не работает
unavailable-absent = отсутствует
unavailable-at-capacity = загружен полностью
reason-no-rule = ни одно правило не подошло
reason-missing = ни одно правило не подошло; не задано `{ $attr }`
reason-no-territory = клиент не входит ни в одну территорию
reason-no-owner = у территории { $territory } нет владельца в этой роли
reason-unavailable = { $employee }: { $why }
reason-n-absent = { $count ->
    [one] { $count } отсутствует
   *[other] { $count } отсутствуют
}
reason-n-inactive = { $count ->
    [one] { $count } не работает
   *[other] { $count } не работают
}
reason-n-full = { $count ->
    [one] { $count } загружен полностью
   *[other] { $count } загружены полностью
}
reason-pool-empty = в группе нет сотрудников
reason-no-takeover = некому принять клиентов { $employee }
reason-role-dropped = этой роли больше нет в схеме: её связи закрываются
reason-pool-exhausted = все сотрудники группы недоступны ({ $parts })

# Заметки рядом с перемещениями плана.
note-absence-ahead = { $employee } отсутствует с { $first } по { $last }: замену можно спланировать с { $first }
note-absence-over = отсутствие { $employee } с { $first } по { $last } закончилось до дня плана: замещать некого
note-leaves-ahead = { $employee } увольняется { $on }: передать клиентов можно в плане на этот день или позже
note-kept = { $count ->
    [one] { $count } связь роли { $role } остаётся у текущего сотрудника
    [few] { $count } связи роли { $role } остаются у текущего сотрудника
   *[many] { $count } связей роли { $role } остаются у текущего сотрудника
}: выбранный правилом сотрудник не может их принять ({ $why }); чтобы перенести их, измените схему

# Пять ролей S4.2 (свои роли схема называет сама).
role-title-lead = привлечение
role-title-sales = продажи
role-title-account = сопровождение
role-title-service = сервис
role-title-admin = администрирование

# Досрочное окончание отсутствия (Команда).
absence-end = Закончить раньше
absence-end-last = Последний день
absence-end-submit = Показать, что изменится
absence-end-title = { $employee } возвращается раньше
absence-end-what = { $employee } отсутствует с { $first } по { $was }; теперь отсутствие заканчивается { $last }, и { $employee } возвращается { $back }.
absence-end-links = { $count ->
    [one] { $shown } клиент, которого замещали, возвращается к { $employee } в этот день; замещение заканчивается.
    [few] { $shown } клиента, которых замещали, возвращаются к { $employee } в этот день; замещение заканчивается.
   *[many] { $shown } клиентов, которых замещали, возвращаются к { $employee } в этот день; замещение заканчивается.
}

# allot balance: отчёт, файл раскроя и картинки.
balance-divided = Новый раскрой — единиц: { $units }{ $clients }, территорий: { $territories }{ $contiguous }
balance-rebalanced = Перераспределение — единиц: { $units }{ $clients }, территорий: { $territories }{ $contiguous }
balance-units-clients = (клиентов: { $clients })
balance-contiguous = , каждая связная
balance-col-territory = территория
balance-col-units = единиц
balance-col-clients = клиентов
balance-col-dev = откл.
balance-col-km = ср. км
balance-col-pieces = частей
balance-spread = разброс { $spread } (допуск { $tolerance }): { $verdict }
balance-within = в пределах допуска
balance-not-within = НЕ в пределах допуска
balance-impossible = допуск недостижим: ни один раскрой не даёт разброс меньше { $bound } ({ $why }); без территорий гигантов разброс { $without }
balance-units-whole = единицы не делятся
balance-giants-alone = { $count ->
    [one] { $giants } один превышает среднее
   *[other] { $giants } каждый превышает среднее
}
balance-best-found = лучший найденный: { $spread }; нижняя граница { $bound } — попробуйте без --contiguous, с большим --time-limit или --restarts
balance-h-compactness = компактность
balance-compactness = { $total } потенциал·км до центров (в среднем { $mean } км на единицу потенциала){ $p_median }
balance-p-median = ; стоимость p-медианы { $cost }
balance-h-contiguity = связность
balance-one-piece = каждая территория — одна связная часть
balance-pieces = лишних частей: { $count }{ $how }
balance-pieces-forced = { " " }(иначе не позволяют закреплённые единицы или граф соседства)
balance-pieces-allowed = { " " }(добавьте --contiguous, чтобы запретить)
balance-h-moves = перемещения
balance-moves = территорию меняют { $potential } потенциала и клиентов: { $clients } ({ $share }); { $least }
balance-least-move = любой раскрой в пределах допуска перемещает не меньше { $bound }
balance-no-least-move = ни один раскрой не укладывается в допуск (гиганты), сравнивать не с чем
balance-h-giants = гиганты
balance-giants = { $count ->
    [one] { $giants } получил отдельную территорию
   *[other] { $giants } получили по отдельной территории
}
balance-h-search = поиск
balance-search = перезапусков: { $restarts }, { $stopped }, { $seconds } с
balance-stop-done = завершён
balance-stop-time-limit = остановлен по времени
balance-stop-interrupted = прерван
balance-stop-move-cap = упёрся в предел перемещений
design-territory = территория
design-employee = сотрудник
design-clients = клиентов
picture-units = единицы
picture-map-title = Территорий: { $territories }, разброс { $criterion } { $spread } %, лишних частей: { $pieces }
picture-map-client = клиент, цветом своей территории
picture-map-centre = центр территории с её названием
picture-chart-title = { $criterion } по территориям
picture-chart-bar = { $criterion }
picture-chart-target = цель (равная доля)
picture-chart-band = допуск ±{ $tolerance } %
picture-thousands = { $n } тыс.
picture-millions = { $n } млн
picture-billions = { $n } млрд

# Отказы, которые читает человек (сделаны глубоко в хранилище или сценарии, сказаны на языке читателя).
error-date = «{ $value }» — не дата: ГГГГ-ММ-ДД, например 2026-11-29
refused-already-absent = { $employee } уже отмечен отсутствующим с { $first } по { $last }
refused-already-leaving = { $employee } уже отмечен уходящим { $on }
refused-end-not-shorter = отсутствие { $employee } и так заканчивается { $was }: окончание { $last } его не сокращает
refused-end-before-start = отсутствие { $employee } начинается { $first }: закончить его можно не раньше этого дня
refused-end-before-cover = замещение клиентов { $employee } началось { $began }: отсутствие можно закончить не раньше { $earliest }
refused-end-in-past = отсутствие нельзя закончить в прошлом: последний день — не раньше { $earliest } (возвращение сегодня)
refused-unknown-role = роли «{ $role }» нет (может быть, «{ $near }»?); роли: { $roles }
refused-pin-reason = для закрепления нужна причина: она остаётся в истории
refused-absence-order = отсутствие заканчивается ({ $last }) раньше, чем начинается ({ $first })
refused-cover-self = сотрудник не может замещать сам себя
refused-stale = с тех пор как план составлен, данные изменились: составьте план заново
refused-not-found = в данных нет: { $what } «{ $id }»
thing-client = клиент
thing-employee = сотрудник
thing-deal = сделка
thing-user = пользователь
thing-absence = отсутствие
thing-pin = закрепление
thing-token = токен
thing-role = роль
thing-plan = план
thing-pin-for = закрепление

# Почему поступивший клиент или сделка попали к этому сотруднику (хранится со связью).
route-no-rule = ни одно правило не подошло
route-via-client = для сделок этой роли правила нет: сотрудник клиента ({ $how })
route-no-client-employee = для сделок этой роли правила нет, а у клиента в этой роли нет сотрудника
route-named = правило «{ $rule }» называет { $employee }
route-owner = правило «{ $rule }»: { $employee } — владелец территории «{ $territory }»
route-could-not = правило «{ $rule }» не смогло принять
route-fallback = переход к правилу «{ $rule }»
route-pool = группа «{ $rule }»: { $employee } больше всех недополучил до своей доли (получено { $received } из { $share }); могли принять { $eligible } из { $members }
route-inactive = { $employee } не работает
route-absent = { $employee } отсутствует
route-off-duty = { $employee } вне рабочего времени
route-no-owner = у территории «{ $territory }» нет владельца в этой роли
route-no-member = все в группе недоступны (отсутствуют: { $absent }, не работают: { $inactive }, вне рабочего времени: { $off }, достигли предела: { $capped })
route-state-lost = состояние группы потеряло сотрудника
note-taken-over = принят от { $employee } (коллега по группе; правило не называет другого сотрудника)
note-covers = замещает { $employee }, отсутствующего с { $first } по { $last }
note-back = возвращён после отсутствия с { $first } по { $last }

# Экран «Вклад» для руководителя отдела продаж (issue #17).
nav-contribution = Вклад
contribution-title = Вклад сотрудников
contribution-being-made = Отчёт готовится: он читает всю базу и продажи за период (на миллионе клиентов — секунды). Страница обновится сама.
contribution-stale = Эти цифры посчитаны { $minutes ->
    [0] меньше минуты назад
    [one] { $minutes } минуту назад
    [few] { $minutes } минуты назад
   *[many] { $minutes } минут назад
}; с тех пор база изменилась, новые уже считаются.
contribution-from = С какого дня
contribution-to = По какой день (включительно)
contribution-per = Строки
contribution-per-employee = по сотрудникам
contribution-per-team = по группам
contribution-per-territory = по территориям
contribution-per-column = по полю { $column }
contribution-role = Роль для диаграмм
contribution-show = Показать
contribution-period = Период { $from } — { $to }
contribution-download = Выгрузить в Excel (XLSX)
contribution-none = В этот период клиентов ни у кого не было.
contribution-balance = Баланс по ролям
contribution-measure = Показатель
contribution-ratio = макс. / мин.
contribution-cv = коэфф. вариации
contribution-gini = Джини
contribution-clients = клиенты
contribution-potential = потенциал
contribution-workload = трудоёмкость
contribution-meaning = Макс. / мин. — во сколько раз у самого загруженного сотрудника больше, чем у наименее загруженного (∞ — если у кого-то ничего нет). Коэффициент вариации — разброс вокруг среднего как доля среднего (0 — у всех поровну). Коэффициент Джини — 0, когда у всех поровну, и ближе к 1, когда почти всё у одного.
contribution-unassigned = Выручка в роли { $role }, которую некому зачесть (роль никто не занимал): { $amount }.
contribution-uncredited = { $count ->
    [one] { $shown } продажу периода не удалось зачесть (allot report --uncredited покажет её).
    [few] { $shown } продажи периода не удалось зачесть (allot report --uncredited покажет их).
   *[many] { $shown } продаж периода не удалось зачесть (allot report --uncredited покажет их).
}
contribution-charts = Диаграммы: { $role }

# Экран «Распределение» для руководителя отдела продаж (issue #17).
nav-routing = Распределение
routing-title = Распределение новых обращений
routing-pools = Группы
routing-no-pools = В действующей схеме нет правил с группами.
routing-pool = Группа { $rule } ({ $role }, { $strategy }): распределено { $items } { $count ->
    [one] обращение
    [few] обращения
   *[many] обращений
}
routing-caps = Пределы на сотрудника: { $day } в день, { $week } в неделю, { $month } в месяц.
routing-no-caps = Пределов нет.
routing-fallback = Если принять некому — правило { $rule }.
routing-weight = Вес
routing-share = Доля
routing-items = Обращений
routing-received = Получено
routing-entitled = Положено
routing-below = Недополучено
routing-today = Сегодня
routing-now = Сейчас
routing-available = принимает
routing-absent = отсутствует сегодня
routing-inactive = не работает
routing-pools-meaning = Следующее обращение получает тот, кто больше всех недополучил до своей доли (положено минус получено, в мере группы); при равенстве — тот, кто дольше ждёт. Отсутствующему на время отсутствия не начисляется, если правило не разрешает ему наверстать.
routing-tokens = Ключи API для интеграций
routing-no-tokens = Ключей пока нет.
routing-token-label = Название
routing-token-scope = Права
routing-token-made = Кто создал
routing-token-state = Состояние
routing-scope-admin = руководитель отдела (всё)
routing-scope-manager = руководитель группы (клиенты его групп)
routing-scope-employee = сотрудник (свои клиенты)
routing-scope-router = распределение (только поступление обращений)
routing-token-works = действует
routing-token-until = действует по { $date }
routing-token-expired = истёк { $date }
routing-token-revoked = отозван: { $by }, { $at }
routing-revoke = Отозвать
routing-revoke-label = Отозвать ключ { $label }
routing-token-new = Новый ключ
routing-token-employee = Сотрудник (для ключа руководителя группы или сотрудника)
routing-token-expires = Перестаёт действовать (необязательно)
routing-token-create = Создать ключ
routing-token-made-title = Ключ создан
routing-token-once = Скопируйте его сейчас: он показывается один раз (хранится только его отпечаток).
routing-back = Назад к распределению
routing-token-needs-label = У ключа должно быть название: по нему видно, кто им пользуется.
routing-token-bad-scope = неизвестные права «{ $scope }»
routing-token-needs-employee = для ключа руководителя группы или сотрудника укажите сотрудника, чьих клиентов он видит
routing-token-expires-past = { $date } — не позже сегодняшнего дня: ключ никогда бы не действовал

# Экран «Загрузка» для руководителя отдела продаж (issue #17).
nav-imports = Загрузка
imports-title = Загрузка файла
imports-intro = Клиенты, сотрудники или сделки — в том виде, в каком они у вас есть: CSV из Excel (с `;`), выгрузка из 1С в Windows-1251, XLSX или JSON Lines. Сначала проверяется весь файл: если где-то ошибка, не загружается ничего; иначе вы увидите план изменений, и он применится только после подтверждения.
imports-kind = Что в файле
imports-clients = клиенты
imports-employees = сотрудники
imports-deals = сделки
imports-encoding = Кодировка CSV-файла
imports-encoding-auto = UTF-8 (определяется сама)
imports-encoding-1251 = Windows-1251 (1С, старый Excel)
imports-file = Файл
imports-submit = Проверить и загрузить
imports-errors = { $count ->
    [one] В файле { $shown } ошибка:
    [few] В файле { $shown } ошибки:
   *[many] В файле { $shown } ошибок:
}
imports-nothing = Ничего не загружено.
imports-broken = Загрузка оборвалась или пришла не форма; попробуйте ещё раз.
imports-bad-kind = Неизвестный вид файла «{ $kind }»: клиенты, сотрудники или сделки.
imports-no-file = Выберите файл для загрузки.
imports-disk = Серверу негде сохранить файл, чтобы прочитать его (заполнен диск?).

# Журнал изменений и версии схемы (issue #17).
nav-changes = Журнал
changes-title = Журнал изменений
changes-show-routing = Показать и пакеты распределения
changes-hide-routing = Скрыть пакеты распределения
changes-none = Изменений пока нет.
changes-kind = Вид
changes-at = Когда
changes-file = Файл
changes-what = Что сделано
changes-earlier = Более ранние изменения
change-kind-import = загрузка
change-kind-apply = применён план
change-kind-pin = закрепление
change-kind-unpin = открепление
change-kind-absence = отсутствие
change-kind-leave = уход сотрудника
change-kind-route = распределение
change-kind-token = ключ API
schemes-title = Версии схемы
schemes-version = Версия { $version }
schemes-active = действует
schemes-first = Первая версия.
schemes-same = По сравнению с предыдущей версией ничего не изменилось (те же части в том же порядке).
schemes-against = По сравнению с версией { $version }: { $shown } { $count ->
    [one] изменение
    [few] изменения
   *[many] изменений
}
schemes-none = Схемы пока нет: её сохраняет первый применённый план.
routing-waiting = Обращения, которые никто не принял
routing-none-waiting = У каждого из последних обращений есть сотрудник в каждой роли.
routing-waiting-how = Откройте карточку обращения, чтобы закрепить его за сотрудником вручную с указанием причины (она останется в истории).
routing-when = Поступило
routing-nobody-in = Нет сотрудника в роли
routing-recent = Последние распределённые обращения
routing-none-recent = Обращений пока не было.
refused-no-credit = в схеме ({ $scheme }) нет раздела [credit]: добавьте его, чтобы сказать, как засчитываются продажи (docs/scheme.md, Credit)

# Что сделало изменение — так, как его называет журнал (хранится с изменением).
summary-routed = распределено обращений: { $count }
summary-token = ключ «{ $label }» ({ $scope })
summary-token-revoked = ключ «{ $label }» отозван
summary-redated = клиент «{ $client }»: связи распределения перенесены на { $day }
summary-import-client = строк клиентов: { $rows }; новых { $new }, изменено { $updated }, без изменений { $same }
summary-import-employee = строк сотрудников: { $rows }; новых { $new }, изменено { $updated }, без изменений { $same }
summary-import-deal = строк сделок: { $rows }; новых { $new }, изменено { $updated }, без изменений { $same }
summary-pin = { $client } { $role } → { $employee }: { $reason }
summary-unpin = { $client } { $role }
summary-absent = { $employee } отсутствует с { $first } по { $last }
summary-absent-covered = { $employee } отсутствует с { $first } по { $last }, замещает { $cover }
summary-absence-ended = отсутствие { $employee } с { $first } по { $was } закончено раньше: последний день { $last }, возвращение { $back }
summary-leaves = { $employee } уходит { $on }
summary-apply = план на { $date }: открыто связей { $opened } ({ $causes }), закрыто { $closed }
summary-apply-scheme = план на { $date }: открыто связей { $opened } ({ $causes }), закрыто { $closed }, версия схемы { $version }

## Предложенные и утверждённые планы (задача #17)
refused-plan-made = план { $id } ещё не предложен
refused-plan-proposed = план { $id } уже предложен и ждёт решения
refused-plan-applied = план { $id } уже применён
refused-plan-rejected = план { $id } отклонён; составьте новый план
refused-plan-not-yours = этот план составил другой человек: решает его автор или администратор
refused-plan-propose-first = этот план утверждает администратор: сначала предложите его с комментарием
refused-plan-admin = этот план утверждает только администратор
refused-plan-other-admin = вы предложили этот план: утверждает его другой администратор
nav-plans = Планы
plans-title = Планы
plans-how = Каждое изменение — отсутствие, увольнение, загрузка, новая схема, новые территории — сначала становится планом: посмотрите, что он меняет, затем примените его или предложите с комментарием на утверждение администратору.
plans-proposed = Ждут решения
plans-made = Составлены, не предложены
plans-applied = Применены
plans-rejected = Отклонены
plans-none = Нет.
plans-what = План
plans-kind = Вид
plans-made-by = Составил
plans-comment = Комментарий
plan-state-made = составлен
plan-state-proposed = предложен, ждёт решения
plan-state-applied = применён
plan-state-rejected = отклонён
plan-kind-team = отсутствие или увольнение
plan-kind-import = загрузка данных
plan-kind-scheme = новая версия схемы
plan-kind-territories = территории
plan-kind-api = составлен через API
plan-for-absence = { $employee } отсутствует с { $first } по { $last }
plan-for-leaver = { $employee } увольняется { $on }
plan-for-import = загрузка файла { $file }
plan-for-scheme = новая версия схемы
plan-scheme-changes = Что меняется в схеме
plan-scheme-diff = Текст схемы: что меняется
plan-scheme-active = действующая схема
plan-scheme-new = предложенная схема
plan-by-employee = Кто получает и кто передаёт клиентов
plan-potential-gained = Потенциал получен
plan-potential-lost = Потенциал передан
plan-by-cause = Переходы по причинам
plan-by-rule = Переходы по правилам
plan-unassigned = Остаются без ответственного
plan-closed-unassigned = { $shown } { $count ->
    [one] связь закрывается
    [few] связи закрываются
   *[many] связей закрываются
 }, и принять их некому.
plan-why = Почему
plan-examples = Например
plan-made-by = Составил
plan-proposed-by = Предложил
plan-approved-by = Утвердил
plan-rejected-by = Отклонил
plan-decision = Комментарий к решению
plan-change = Применён изменением
plan-decide = Решение
plan-policy-maker = Этот план применяет его автор или администратор.
plan-policy-admin = Этот план предлагают с комментарием; утверждает или отклоняет его администратор.
plan-policy-other-admin = Этот план предлагают с комментарием; утверждает или отклоняет его другой администратор, не автор предложения.
plan-comment-label = Комментарий (его увидят в журнале изменений)
plan-propose = Предложить
plan-approve = Утвердить и применить
plan-reject = Отклонить
plan-discard = Отказаться
plan-comment-long = Комментарий длиннее { $limit } знаков.
plan-comment-needed = Напишите в комментарии, зачем предлагается это изменение.
plan-back = К плану
plan-drill-title = { $employee }, { $role }: какие клиенты переходят
plan-by-this-rule = правило { $rule }
plan-held-by-rule = было по правилу { $rule }
plan-drill-first = Первые { $shown } { $count ->
    [one] клиент
    [few] клиента
   *[many] клиентов
 }:
changes-plan = план
changes-proposed = предложил
changes-approved = утверждён

## Конструктор правил (задача #17 §1)
nav-rules = Правила
rules-title = Правила распределения
rules-how = Схема — это роли, их правила по порядку (клиента получает первое подходящее правило) и территории с владельцами; справа её текст. Правка в одном месте видна в обоих; проверка ниже идёт по ходу правки. Ничего не меняется, пока план по схеме не утверждён.
rules-draft-file = черновик
rules-toml = Текст схемы (TOML)
rules-toml-how = Для тех, кому удобнее текст: правьте его здесь — списки и проверка следуют за ним.
rules-check = Проверить
rules-plan = Составить план
rules-too-long = Схема длиннее { $limit } КиБ.
rules-empty = Схема пуста: добавьте правило в конструкторе.
rules-outline-wait = В тексте ошибка (см. проверку): списки появятся снова, когда текст прочитается.
rules-check-title = Проверка
rules-roles = Роли и их правила
rules-none = Правил пока нет.
rules-role-empty = У этой роли пока нет правил.
rules-every-client = любой клиент
rules-on-deal = (по сделкам)
rules-up = Поднять правило { $id }
rules-down = Опустить правило { $id }
rules-remove = Удалить правило { $id }
rules-territories = Территории
rules-territory = Территория
rules-covers = Что входит
rules-owners = Владельцы по ролям
rules-target-owner = владелец территории
rules-target-employee = { $employee }
rules-target-pool = группа { $who } ({ $strategy })
rules-target-pool-weights = группа { $who } ({ $strategy }; веса { $weights })
rules-target-kind-employee = сотрудник
rules-target-kind-pool = группа команды
rules-test = Условие { $n }: поле
rules-op = сравнение
rules-value = значение
rules-op-eq = равно
rules-op-ne = не равно
rules-op-in = одно из (через ;)
rules-op-not-in = ни одно из (через ;)
rules-op-contains = содержит
rules-op-gt = больше
rules-op-ge = не меньше
rules-op-lt = меньше
rules-op-le = не больше
rules-op-missing = не заполнено
rules-op-present = заполнено
rules-add = Добавить правило
rules-id = Обозначение (буквы, цифры, - и _)
rules-tests-how = Условия по полям клиентов; строку без поля пропускаем; без условий — любой клиент.
rules-join = Как сочетать условия
rules-join-all = все сразу (и)
rules-join-any = любое из них (или)
rules-target = Кто получает клиентов
rules-team = Команда (для группы)
rules-strategy = Как группа делит клиентов
rules-weights = Веса в группе (например, anna = 3, boris = 2)
rules-before = Место
rules-at-end = после последнего правила роли
rules-add-button = Добавить правило
rules-add-role = Добавить роль
rules-role-how = Роль — это то, что человек делает для клиента (продажи, сервис, телефонный пост), а не должность: у одного человека может быть несколько ролей, у клиента — по ответственному в каждой.
rules-role-name = Название для людей
rules-set-owner = Назначить владельца территории
rules-no-owner = никто
rules-added = Правило { $id } добавлено.
rules-removed = Правило { $id } удалено.
rules-moved = Правило { $id } перемещено.
rules-role-added = Роль { $id } добавлена.
rules-owner-set = Владелец территории { $territory } назначен.
rules-not-toml = Текст пока не читается как схема: { $why }
rules-unknown-rule = Правила { $id } нет.
rules-duplicate-rule = Правило { $id } уже есть: дайте новому другое обозначение.
rules-duplicate-role = Роль { $id } уже есть.
rules-unknown-territory = Территории { $id } нет.
rules-bad-id = «{ $id }» не годится в обозначения: только буквы, цифры, - и _.
rules-no-target = Укажите, кто получает клиентов: сотрудник, группа команды или владелец территории.
rules-bad-condition = Условие не составить: { $why }
rules-bad-weight = «{ $part }» — не вес: пишите имя = число.
rules-errors = Исправьте { $count ->
    [one] { $shown } ошибку
    [few] { $shown } ошибки
   *[many] { $shown } ошибок
 }:
rules-valid = Схема читается и подходит к данным.
rules-findings = Проверка нашла { $count ->
    [one] { $shown } замечание
    [few] { $shown } замечания
   *[many] { $shown } замечаний
 }:
rules-coverage = Охват по ролям
rules-assigned = Назначено
rules-unassigned = Без ответственного
rules-declared = Поле { $column } объявлено.
scheme-change-added = { $part }: добавлено
scheme-change-removed = { $part }: удалено
scheme-change-changed = { $part }: изменено
scheme-change-moved = { $part }: другое место в порядке
scheme-part-rule = правило { $id }
scheme-part-territory = территория { $id }
scheme-part-role = роль { $id }
scheme-part-team = команда { $id }
scheme-part-columns = поля клиентов
scheme-part-deal_columns = поля сделок
scheme-part-measures = показатели
scheme-part-name = название схемы
scheme-part-credit = зачёт продаж
scheme-part-values = словари значений
rules-territories-set = Территории заменены.

## Территории (задача #17 §3)
nav-territories = Территории
territories-title = Территории
territories-how = Разделите клиентов из базы на территории равного потенциала (или трудоёмкости, или числа клиентов) — целыми регионами, связными — между людьми команды или на заданное число территорий; или выровняйте нынешние, перемещая не больше, чем нужно для допуска. Расчёт показывает ход и останавливается по кнопке; карта и таблица показывают итог; план отправляет его на утверждение.
territories-who = Для кого
territories-team = Владельцы: люди команды
territories-k = или число территорий (без владельцев)
territories-parent = Внутри территории (из схемы)
territories-what = Что выравнивать
territories-by = Выравнивать
territories-count = число клиентов
territories-tolerance = Допуск, %
territories-unit = Не делить
territories-unit-client = каждый клиент сам по себе
territories-contiguous = каждая территория — одним куском
territories-filter = Только клиенты, для которых (условие, можно пусто)
territories-mode = Как
territories-mode-design = новый раскрой
territories-mode-rebalance = выровнять нынешних владельцев
territories-max-moved = Переместить не больше этой доли потенциала, % (можно пусто)
territories-seconds = Время на расчёт, секунд
territories-run = Рассчитать
territories-runs = Последние расчёты
territories-credit = Расположение клиентов: GeoNames (CC BY 4.0).
territories-running = попытка { $done } из { $of }
territories-stopped = остановлен: лучший найденный раскрой
territories-finished = готово
territories-failed = расчёт не удался
territories-bad-percent = «{ $value }» — не процент от 0 до 100.
territories-bad-k = «{ $value }» — не число территорий от 2 до 1000.
territories-bad-seconds = «{ $value }» — не число секунд от 1 до 600.
territories-need-owners = Выберите команду, люди которой владеют территориями, или укажите число территорий.
territories-busy = Уже идёт расчёт: по одному за раз.
territories-see-run = Посмотреть
territories-empty-team = В команде { $team } никого нет.
territories-run-title = Раскрой территорий
territories-stop = Остановить и оставить лучший
territories-again = Новый расчёт
territories-summary = { $territories ->
    [one] { $territories } территория
    [few] { $territories } территории
   *[many] { $territories } территорий
 } из { $units } единиц, клиентов: { $clients }, за { $seconds } с
territories-spread = { $criterion }: разброс { $spread } (допуск { $tolerance }; лучше не может ни один раскрой: { $bound })
territories-moves = По сравнению с сегодняшним: территорию меняют клиентов: { $clients }, это { $share } потенциала.
territories-map-alt = Карта клиентов, цвет — территория
territories-centres = Центры территорий: наведите или перейдите на центр, чтобы увидеть итоги
territories-map-caption = Точка — клиент, цвет — территория; точки в чёрном кольце — центры: наведите на центр, чтобы увидеть итоги.
territories-hover-clients = { $count ->
    [one] { $shown } клиент
    [few] { $shown } клиента
   *[many] { $shown } клиентов
 }
territories-units = Единиц
territories-deviation = откл.
territories-km = ср. км до центра
territories-pieces = лишних частей
territories-compactness = Среднее расстояние до центра территории: { $km } км; лишних частей: { $pieces }.
territories-to-plan = Составить план
territories-to-plan-how = (действующая схема с этими территориями; затем предложите её на утверждение)
territories-no-plan = Для плана нужны владельцы (команда) и неделимое поле (например, регион): схема называет территории по его значениям.
territories-no-map = Карту нарисовать не удалось.
plan-for-territories = { $count ->
    [one] { $count } новая территория
    [few] { $count } новые территории
   *[many] { $count } новых территорий
 }
balance-note-left-out = { $count ->
    [one] { $count } клиент из базы, которого
    [few] { $count } клиента из базы, которых
   *[many] { $count } клиентов из базы, которых
 } в роли { $role } ведёт человек без территории здесь, не учтены
balance-note-where = условию отвечают клиентов: { $kept } из { $of }
rules-add-territory = Добавить территорию
rules-territory-how = В территорию входят клиенты, у которых поле (обычно регион) принимает одно из её значений; без значений в неё входят все клиенты (например, вся страна), и в неё можно вложить другие. Регионы — названиями или кодами, через ;.
rules-territory-name = Название для людей
rules-territory-parent = Внутри территории
rules-territory-attr = По полю
rules-territory-values = Значения (регионы названиями или кодами, через ;)
rules-territory-owner = Владелец в этой роли
rules-territory-added = Территория { $id } добавлена.
rules-duplicate-territory = Территория { $id } уже есть.
rules-unknown-region = «{ $value }» — не регион России; ближе всего: { $near }
imports-done-no-scheme = Файл { $file } загружен. Схемы в базе ещё нет: теперь задайте правила и территории.
rules-checking = Схема проверяется по данным… (без скриптов нажмите «Проверить»)
territories-by2 = и ещё (можно пусто)
picture-map-borders = серым — границы регионов, приблизительно (населённые пункты GeoNames, CC BY 4.0)
rules-not = не (наоборот)
schemes-diff = Что изменилось по сравнению с версией { $version }
schemes-text = Текст версии

# Issue #18 §4: people told that clients became theirs.
notify-subject = { $count ->
    [one] Вам передан { $count } клиент
    [few] Вам переданы { $count } клиента
   *[other] Вам передано { $count } клиентов
}
notify-team-subject = { $count ->
    [one] Вашей команде передан { $count } клиент
    [few] Вашей команде переданы { $count } клиента
   *[other] Вашей команде передано { $count } клиентов
}
notify-hello = Здравствуйте, { $name }!
notify-intro = { $count ->
    [one] Теперь вы отвечаете за { $count } клиента:
   *[other] Теперь вы отвечаете за { $count } клиентов:
}
notify-team-intro = { $count ->
    [one] Сотрудникам вашей команды передан { $count } клиент:
    [few] Сотрудникам вашей команды переданы { $count } клиента:
   *[other] Сотрудникам вашей команды передано { $count } клиентов:
}
notify-line = { $client } — { $role }, с { $date }: { $why }
notify-team-person = { $name }: { $count ->
    [one] { $count } клиент
    [few] { $count } клиента
   *[other] { $count } клиентов
}
notify-waiting-subject = { $count ->
    [one] { $count } лид ждёт ответственного
    [few] { $count } лида ждут ответственного
   *[other] { $count } лидов ждут ответственного
}
notify-waiting-intro = { $count ->
    [one] { $count } распределённый лид ждёт ответственного дольше { $minutes } мин — назначьте его вручную (Маршрутизация в рабочем месте allot):
    [few] { $count } распределённых лида ждут ответственного дольше { $minutes } мин — назначьте их вручную (Маршрутизация в рабочем месте allot):
   *[other] { $count } распределённых лидов ждут ответственного дольше { $minutes } мин — назначьте их вручную (Маршрутизация в рабочем месте allot):
}
notify-waiting-line = { $client } — нет ответственного: { $roles }; распределён { $since } UTC
notify-more = … и ещё { $count } (все — в рабочем месте allot, «Мои клиенты»)
notify-sign = — allot
notify-rule = правило «{ $rule }»
