"""A small chain of hand-built source rows covering the contract's edge cases (a trade at 23:30 local, the
November DST change, a store in Shanghai, dirty rows, orphan departments, test kitchens, stores not yet open,
a closed day), for the end-to-end tests."""

from datetime import date, datetime

from store_anomaly_tests.source_rows import create_all_source_tables, insert_rows

START, END = date(2025, 11, 1), date(2025, 11, 3)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text)


def build_sources(urls: dict[str, str]) -> None:
    create_all_source_tables(urls)
    insert_rows(
        urls,
        "t_shop",
        [
            {
                "id": 1,
                "shop_no": "US00001",
                "shop_name": "8th & Broadway",
                "status": 1,
                "shop_type": 1,
                "time_zone": "America/New_York",
                "open_date": date(2025, 1, 1),
            },
            {
                "id": 2,
                "shop_no": "US00000",
                "shop_name": "NJ test kitchen",
                "status": 1,
                "shop_type": 9,
                "time_zone": "America/New_York",
                "open_date": None,
            },
            {
                "id": 3,
                "shop_no": "US00007",
                "shop_name": "108th & Broadway",
                "status": 2,
                "shop_type": 1,
                "time_zone": "America/New_York",
                "open_date": date(2026, 6, 1),
            },
            {
                "id": 4,
                "shop_no": "US00010",
                "shop_name": "Shanghai",
                "status": 1,
                "shop_type": 1,
                "time_zone": "Asia/Shanghai",
                "open_date": date(2025, 11, 2),
            },
        ],
    )
    insert_rows(
        urls,
        "t_shop_dept",
        [
            {"dept_id": 1127, "shop_no": "US00001"},
            {"dept_id": 1000, "shop_no": "US00000"},
            {"dept_id": 20011, "shop_no": "US00007"},
            {"dept_id": 3000, "shop_no": "US00010"},
        ],
    )
    trade = lambda id_, dept, pay, status, ts: {
        "id": id_,
        "trade_no": f"T{id_}",
        "dept_id": dept,
        "pay_money": pay,
        "trade_status": status,
        "create_time": utc(ts),
    }
    insert_rows(
        urls,
        "t_trade",
        [
            trade(1, 1127, 10, 1, "2025-11-02 03:30:00"),  # 23:30 EDT on Nov 1: business date Nov 1
            trade(2, 1127, 5, 1, "2025-11-02 05:30:00"),  # 01:30 EDT on Nov 2, before the clocks fall back
            trade(3, 1127, 7, 1, "2025-11-02 06:30:00"),  # 01:30 EST on Nov 2, the repeated hour
            trade(4, 1127, 3, 1, "2025-11-03 04:30:00"),  # 23:30 EST on Nov 2
            trade(5, 1127, None, 1, "2025-11-02 15:00:00"),  # NULL pay_money
            trade(6, 1127, -2, 1, "2025-11-02 15:10:00"),  # negative pay_money
            trade(7, 1127, 4, 2, "2025-11-02 15:20:00"),  # refunded
            trade(8, 1127, 6, 3, "2025-11-02 15:30:00"),  # cancelled
            trade(9, 55555, 100, 1, "2025-11-02 16:00:00"),  # orphan department
            trade(10, 1000, 50, 1, "2025-11-02 16:00:00"),  # test kitchen
            trade(11, 3000, 20, 1, "2025-11-01 17:00:00"),  # 01:00 on Nov 2 in Shanghai
            trade(12, 3000, 30, 1, "2025-11-01 15:00:00"),  # 23:00 on Nov 1 in Shanghai: before its open date
            trade(13, 20011, 9, 1, "2025-11-02 16:00:00"),  # store not yet open
            # Shanghai trades on Nov 3 while US00001 takes no order: one store closed, not a stopped feed
            trade(14, 3000, 12, 1, "2025-11-03 02:00:00"),
        ],
    )
    insert_rows(
        urls,
        "t_trade_item",
        [
            {"id": 1, "trade_id": 1, "spu_id": 1, "quantity": 2},
            {"id": 2, "trade_id": 2, "spu_id": 1, "quantity": 1},
            {"id": 3, "trade_id": 2, "spu_id": 2, "quantity": 1},
            {"id": 4, "trade_id": 3, "spu_id": 1, "quantity": 3},
            {"id": 5, "trade_id": 5, "spu_id": 1, "quantity": 9},
            {"id": 6, "trade_id": 7, "spu_id": 1, "quantity": 9},
            {"id": 7, "trade_id": 4, "spu_id": 1, "quantity": 1},
        ],
    )
    production = lambda id_, dept, start, finish: {
        "id": id_,
        "dept_id": dept,
        "trade_no": None,
        "item_count": 1,
        "start_time": utc(start),
        "finish_time": utc(finish) if finish else None,
    }
    insert_rows(
        urls,
        "t_production_order",
        [
            production(1, 1127, "2025-11-02 14:00:00", "2025-11-02 14:02:00"),  # 120 s
            production(2, 1127, "2025-11-02 14:10:00", "2025-11-02 14:14:00"),  # 240 s
            production(3, 1127, "2025-11-02 14:20:00", None),  # unfinished
            production(4, 1127, "2025-11-02 14:30:00", "2025-11-02 14:29:00"),  # finish before start
            production(5, 55555, "2025-11-02 14:30:00", "2025-11-02 14:31:00"),  # orphan
            # the production feed delivers every trading day: US00001 on Nov 1, Shanghai on Nov 3
            production(6, 1127, "2025-11-01 14:00:00", "2025-11-01 14:01:00"),
            production(7, 3000, "2025-11-03 02:00:00", "2025-11-03 02:03:00"),
        ],
    )
    shift = lambda id_, dept, employee, clock_in, clock_out: {
        "id": id_,
        "dept_id": dept,
        "employee_id": employee,
        "clock_in": utc(clock_in),
        "clock_out": utc(clock_out) if clock_out else None,
    }
    insert_rows(
        urls,
        "t_attendance",
        [
            shift(1, 1127, 501, "2025-11-02 11:00:00", "2025-11-02 19:00:00"),  # 8 h
            shift(2, 1127, 501, "2025-11-02 20:00:00", "2025-11-02 22:00:00"),  # same employee again: 2 h
            shift(3, 1127, 502, "2025-11-02 12:00:00", None),  # open shift
            shift(4, 1127, 503, "2025-11-02 12:00:00", "2025-11-03 05:00:00"),  # 17 h: over 16 h
            shift(5, 1127, 504, "2025-11-02 12:00:00", "2025-11-02 12:00:00"),  # zero length
            # so does attendance
            shift(6, 1127, 505, "2025-11-01 12:00:00", "2025-11-01 20:00:00"),
            shift(7, 3000, 601, "2025-11-03 00:00:00", "2025-11-03 08:00:00"),
        ],
    )
    insert_rows(
        urls,
        "t_task_form",
        [
            {"id": 1, "dept_id": 1127, "task_time": utc("2025-11-02 15:00:00"), "score": 90},
            {"id": 2, "dept_id": 1127, "task_time": utc("2025-11-02 16:00:00"), "score": 80},
            {"id": 3, "dept_id": 1127, "task_time": utc("2025-11-02 17:00:00"), "score": None},
        ],
    )
    insert_rows(
        urls,
        "t_expiry_management",
        [
            {"id": 1, "dept_id": 1127, "record_time": utc("2025-11-02 22:00:00"), "expired_qty": 3},
            {"id": 2, "dept_id": 1127, "record_time": utc("2025-11-03 03:00:00"), "expired_qty": 2},  # 22:00 EST Nov 2
        ],
    )
