"""Variant deliveries: the raw extract contract (../shared/contracts/raw_extracts.md) written by a
second, independent hand, to prove the warehouse works on deliveries `tiering simulate` did not
produce (other names, other rates, other flavours of the contract's mess).

Written from the contract alone, not from tiering/simulate: its own vocabulary (cities, many of
them missing from seeds/cleaning/regions.csv, 字号, industries, people), its own rates, and file
flavours the simulator never writes (docs/robustness.md lists them). Plain Python over a few
thousand companies at most: it is for tests and benchmarks, not for volume.

    from tiering.testing.variants import generate
    summary = generate(landing, truth, companies=400, months=3, start="2025-10", seed=7)

Truth (outside the landing zone):
  source_records.parquet       department, entity, record_id, company_id, mess
                               (the simulator's format, docs/simulator.md: scored by
                               benchmarks/bench_identity.py)
  companies.parquet            company_id, name, former_name, uscc, group_id, twin_id, province,
                               city
  expected_values.parquet      source_file, row_number, field, kind, expected, flavour: what staging
                               must make of each delivered phone / date / timestamp / amount (元) /
                               integer / boolean
  expected_quarantine.parquet  source_file, row_number, flavour, reason: rows broken on purpose and
                               a substring the ingestion reason must contain
  deliveries.json              department, extract_date, status (loaded / rejected / pending),
                               message (substring of ingestion's message)
With `business_day_cuts=True`, crm, risk and service cut a month whose last day falls on a
weekend on the Friday before (2025-11-28 for November): the contract's "business date the
extract was cut", with the departments that define the periods (crm, risk) on another day than
the others.
With `credit_world=True` (tiering/testing/variant_credit.py) the risk, registry and finance
values follow latent credit health and growth, and the truth adds defaults.parquet,
latent_monthly.parquet and companies.health / growth (scored by benchmarks/bench_tiering.py
--generator variants).
"""

from __future__ import annotations

import csv
import io
import json
import random
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tiering.contract import Entity, entity
from tiering.ingest.rules import DATES, NUMERIC
from tiering.testing.variant_credit import CreditWorld
from tiering.testing.variant_credit import poisson as _poisson

# ------------------------------------------------------------------------------ vocabulary
# province, city, admin division code, area code. About a third of these cities are not in
# seeds/cleaning/regions.csv (江门, 泰州, 义乌, 威海, 岳阳, 宜宾, 遵义, 九江, 榆林, ...).
CITIES: tuple[tuple[str, str, str, str], ...] = (
    ("广东", "佛山", "440604", "0757"), ("广东", "江门", "440703", "0750"),
    ("广东", "东莞", "441900", "0769"), ("广东", "珠海", "440402", "0756"),
    ("江苏", "无锡", "320214", "0510"), ("江苏", "常州", "320411", "0519"),
    ("江苏", "泰州", "321202", "0523"), ("浙江", "温州", "330302", "0577"),
    ("浙江", "绍兴", "330602", "0575"), ("浙江", "义乌", "330782", "0579"),
    ("福建", "泉州", "350503", "0595"), ("山东", "烟台", "370602", "0535"),
    ("山东", "威海", "371002", "0631"), ("河南", "洛阳", "410302", "0379"),
    ("湖北", "宜昌", "420502", "0717"), ("湖南", "岳阳", "430602", "0730"),
    ("四川", "宜宾", "511502", "0831"), ("四川", "绵阳", "510703", "0816"),
    ("贵州", "遵义", "520302", "0851"), ("广西", "柳州", "450202", "0772"),
    ("内蒙古", "包头", "150203", "0472"), ("辽宁", "大连", "210202", "0411"),
    ("甘肃", "兰州", "620102", "0931"), ("宁夏", "银川", "640104", "0951"),
    ("海南", "海口", "460105", "0898"), ("安徽", "芜湖", "340202", "0553"),
    ("江西", "九江", "360402", "0792"), ("陕西", "榆林", "610802", "0912"),
    ("上海", "上海", "310104", "021"), ("天津", "天津", "120103", "022"),
    ("重庆", "重庆", "500103", "023"),
)
MUNICIPALITIES = {"上海", "天津", "重庆"}
PROVINCE_LONG = {"内蒙古": "内蒙古自治区", "宁夏": "宁夏回族自治区", "广西": "广西壮族自治区"}

STEMS = tuple(
    "粤星 川南 蜀光 楚天 湘瑞 闽兴 齐鲁 燕赵 秦川 陇原 黔龙 桂海 琼岛 辽河 松江 长白 天府 巴渝 "
    "荆楚 吴越 徽宁 赣江 晋阳 冀中 豫东 皖江 苏南 沪东 津港 渝丰 鹏程 凯达 永泰 金帆 银杉 玉龙 "
    "翠峰 碧水 丹霞 紫金 青云 赤城 白沙 黑石 金穗 麦田 稻香 禾丰 桑林 竹海 松柏 梅园 兰亭 菊苑 "
    "荷塘 柳岸 枫林 樟树 榕城 椰风 橙光 桔洲 蓝鲸 海鸥 雄鹰 骏马 麒麟 凤凰 锦鲤 飞燕 仙鹤 瀚海 "
    "沧澜 浩宇 乾元 博瑞 恒润 信和 友邦 立讯 华灿 晶科 奥飞 欧普 雷士 美菱 格林 创维 步步 "
    "百合 三友 四通 五洲 六和 七星 八方 九鼎 十方 千峰 万象 亿帆 兆丰".split()
)
# industry word, GB/T 4754-2017 code, CRM free text
INDUSTRIES: tuple[tuple[str, str, str], ...] = (
    ("照明电器", "C3872", "照明/电器制造"), ("酒业", "C1512", "食品饮料"),
    ("纺织", "C1711", "纺织服装"),
    ("食品", "C1499", "食品"), ("制药", "C2720", "医药,制药"), ("汽车零部件", "C3670", "汽车配件"),
    ("精密机械", "C3484", "机械制造"), ("电子", "C3979", "电子"), ("陶瓷", "C3071", "建材（陶瓷）"),
    ("家具", "C2110", "家居"), ("包装材料", "C2231", "包装"), ("冷链物流", "G5951", "物流"),
    ("港务", "G5531", "港口运输"), ("矿业", "B0810", "采矿"), ("钢构", "C3311", "钢铁/钢结构"),
    ("建材", "C3021", "建材"), ("电缆", "C3831", "电线电缆"), ("光电", "C3976", "光电子"),
    ("软件", "I6513", "软件和信息服务"), ("网络科技", "I6450", "互联网"),
    ("生物科技", "M7340", "生物"),
    ("农牧", "A0313", "农牧业"), ("园林绿化", "N7850", "园林"), ("市政工程", "E4813", "市政"),
    ("路桥建设", "E4812", "交通基建"), ("置地", "K7010", "房地产"), ("商贸", "F5191", "商贸流通"),
    ("进出口", "F5191", "外贸"), ("融资租赁", "J6631", "类金融"), ("水泥", "C3011", "建材"),
    ("新材料", "C3985", "新材料"), ("储能科技", "C3841", "新能源"), ("环境工程", "N7722", "环保"),
)
LEGAL_FORMS = (("有限公司", 0.6), ("有限责任公司", 0.2), ("股份有限公司", 0.2))
GROUP_FORMS = ("集团有限公司", "控股集团有限公司", "集团股份有限公司")
SURNAMES = tuple("蔡邓冯韩曹彭曾萧田董潘袁蒋余杜叶程魏苏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦"
                 "付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤") + (
    "欧阳", "司马", "上官", "诸葛")
GIVEN = tuple("子涵梓萱一诺欣妍浩然宇轩沐辰思远雨桐可馨嘉懿俊熙晨阳紫琪佳怡梦瑶博文天佑明哲"
              "昊天瑾瑜锦程皓轩诗涵若曦堃喆燊昇珺")
TYPO_POOL = "粵興華業達盛泰鑫源宏丰瑞安德嘉新恒"  # look-alike / homophone slips
EMAIL_DOMAINS = ("foxmail.com", "yeah.net", "aliyun.com", "outlook.com", "sohu.com", "gmail.com")
PROJECT_TYPES = ("基础设施", "房地产", "新能源", "先进制造", "城市更新", "医疗养老")
PROJECT_WORDS = {"基础设施": "综合交通枢纽", "房地产": "滨江花园", "新能源": "渔光互补电站",
                 "先进制造": "数字工厂", "城市更新": "旧城片区改造", "医疗养老": "颐养中心"}
ROLES = ("借款人", "投资方", "总包方", "担保方", "运营方")
FEE_TYPES = ("利息收入", "融资服务费", "咨询服务费", "担保费")
CLIENT_TYPES = ("民营企业", "国有企业", "地方政府平台", "外资企业", "事业单位")
RATINGS = ("AAA", "AA", "A", "BBB", "BB", "B", "CCC", "CC", "C", "D")
EVENT_TYPES = ("逾期", "违约", "诉讼", "重组", "展期", "行政处罚")
ASSOCIATIONS = ("中国照明电器协会", "广东省企业联合会", "中国建筑业协会", "中国物流与采购联合会",
                "全国工商联房地产商会", "中国融资租赁企业协会", "浙江省民营企业发展联合会")

# ------------------------------------------------------------------------------------ rates
RATES = {
    # name mess per typed name (times a department's scale)
    "former": 0.5, "short": 0.05, "region_drop": 0.04, "region_bracket": 0.05,
    "region_suffix": 0.08, "legal_form": 0.06, "typo": 0.015, "traditional": 0.02,
    "width": 0.06, "space": 0.05,
    # identifiers
    "uscc_lower": 0.03, "uscc_spaced": 0.04, "uscc_dashed": 0.03, "uscc_fullwidth": 0.01,
    "uscc_transposed": 0.02, "uscc_other": 0.006,
}
NAME_SCALE = {"crm": 1.0, "finance": 0.4, "risk": 0.6, "projects": 2.5, "service": 2.0}
USCC_BLANK = {"crm": 0.35, "finance": 0.03, "risk": 0.08}


# ------------------------------------------------------------------------- check characters
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
ORG_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def org_check(body8: str) -> str:
    """GB 11714 check character: 11 - sum(value * weight) mod 11; 10 -> X, 11 -> 0."""
    total = sum(ORG_ALPHABET.index(c) * w for c, w in zip(body8, (3, 7, 9, 10, 5, 8, 4, 2)))
    return "0123456789X0"[11 - total % 11]


def uscc_check(body17: str) -> str:
    """GB 32100-2015 check character: weights 3^i mod 31."""
    total = sum(USCC_ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(body17))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def make_uscc(rng: random.Random, division: str) -> tuple[str, str]:
    """A valid USCC (registration authority 9, enterprise 1) and its organisation code."""
    body8 = "".join(rng.choice("0123456789" * 3 + "ABCDEFGHJKLMNPQRTUWXY") for _ in range(8))
    org = body8 + org_check(body8)
    body = "91" + division + org
    return body + uscc_check(body), org


# ------------------------------------------------------------------------------- the world
@dataclass
class Company:
    id: str
    city: int
    stem: str
    industry: int
    form: str
    bracket: bool  # registered with the region in brackets
    uscc: str
    org: str
    phone: tuple[str, str]  # ("mobile", "13812345678") or ("landline", "0755", "87654321")
    legal_rep: str
    size: float
    group: str | None = None
    twin: str | None = None
    former: tuple[str, str] | None = None  # (stem, industry word) before a rename
    first_month: dict[str, int] = field(default_factory=dict)

    @property
    def province(self) -> str:
        return CITIES[self.city][0]

    @property
    def region(self) -> str:
        return CITIES[self.city][1]

    @property
    def industry_word(self) -> str:
        return INDUSTRIES[self.industry][0] if self.industry >= 0 else ""

    def name(self, stem: str | None = None, industry: str | None = None) -> str:
        stem = stem or self.stem
        industry = self.industry_word if industry is None else industry
        if self.bracket:
            return f"{stem}（{self.region}）{industry}{self.form}"
        return f"{self.region}{stem}{industry}{self.form}"

    @property
    def former_name(self) -> str | None:
        return self.name(*self.former) if self.former else None


def person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


def _phone(rng: random.Random, city: int, mobile: bool) -> tuple[str, ...]:
    if mobile:
        return ("mobile", "1" + rng.choice("35789")
                + "".join(rng.choice("0123456789") for _ in range(9)))
    area = CITIES[city][3]
    return ("landline", area, rng.choice("2345678") + "".join(rng.choice("0123456789")
                                                                for _ in range(7)))


def build_world(rng: random.Random, n: int) -> list[Company]:
    companies: list[Company] = []
    names: set[str] = set()
    stems_used: set[tuple[str, int]] = set()

    def new(city: int, stem: str, industry: int, form: str, **kw) -> Company | None:
        bracket = rng.random() < 0.07 and city_has_prefix(city)
        uscc, org = make_uscc(rng, CITIES[city][2])
        mobile = rng.random() < 0.55
        c = Company(f"V{len(companies) + 1:05d}", city, stem, industry, form, bracket, uscc, org,
                    _phone(rng, city, mobile), person(rng), rng.lognormvariate(0, 1.2), **kw)
        if c.name() in names or (stem, city) in stems_used and not kw:
            return None
        names.add(c.name())
        stems_used.add((stem, city))
        companies.append(c)
        return c

    def city_has_prefix(city: int) -> bool:
        return CITIES[city][1] not in MUNICIPALITIES or rng.random() < 0.5

    while len(companies) < n:
        city = rng.randrange(len(CITIES))
        stem = rng.choice(STEMS) + (rng.choice(STEMS) if rng.random() < 0.6 else "")
        roll = rng.random()
        if roll < 0.07 and n - len(companies) >= 3:  # parent + subsidiaries, one switchboard
            parent = new(city, stem, -1, rng.choice(GROUP_FORMS), group=f"G{len(companies)}")
            if parent is None:
                continue
            for industry in rng.sample(range(len(INDUSTRIES)), rng.randint(1, 3)):
                child = new(city, stem, industry, "有限公司", group=parent.group)
                if child:
                    child.phone = parent.phone
            parent.phone = parent.phone if parent.phone[0] == "landline" else \
                _phone(rng, city, False)
            for c in companies:
                if c.group == parent.group:
                    c.phone = parent.phone
        elif roll < 0.10 and n - len(companies) >= 2:  # same brand in two cities
            industry = rng.randrange(len(INDUSTRIES))
            first = new(city, stem, industry, "有限公司", twin=f"T{len(companies)}")
            if first:
                other = rng.choice([i for i in range(len(CITIES)) if i != city])
                new(other, stem, industry, "有限公司", twin=first.twin)
        else:
            form = rng.choices([f for f, _ in LEGAL_FORMS], [w for _, w in LEGAL_FORMS])[0]
            c = new(city, stem, rng.randrange(len(INDUSTRIES)), form)
            if c and rng.random() < 0.06:  # renamed: another industry word, often another stem
                old_stem = rng.choice(STEMS) if rng.random() < 0.5 else c.stem
                c.former = (old_stem, INDUSTRIES[rng.randrange(len(INDUSTRIES))][0])
    return companies[:n]


# ---------------------------------------------------------------------------- typed values
FULL_WIDTH = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}


def to_full_width(text: str) -> str:
    return "".join(FULL_WIDTH.get(ch, ch) for ch in text)


_S2T = None


def to_traditional(text: str) -> str:
    global _S2T
    if _S2T is None:
        import opencc

        _S2T = opencc.OpenCC("s2t")
    out = _S2T.convert(text)
    # keep every character GBK can encode (finance delivers GBK)
    return "".join(t if _gbk(t) else s for t, s in zip(out, text)) if len(out) == len(text) \
        else text


def _gbk(ch: str) -> bool:
    try:
        ch.encode("gbk")
        return True
    except UnicodeEncodeError:
        return False


def typed_name(rng: random.Random, c: Company, scale: float) -> tuple[str, str]:
    """A company name as someone typed it, and the mess codes applied (`clean` if none)."""
    r = {k: v * scale for k, v in RATES.items()}
    codes: list[str] = []
    stem, industry, form = c.stem, c.industry_word, c.form
    if c.former and rng.random() < RATES["former"]:
        stem, industry = c.former
        codes.append("former")
    if rng.random() < r["short"]:
        text = stem
        codes.append("short")
    else:
        region, bracket = c.region, c.bracket
        if rng.random() < r["legal_form"]:
            form = {"有限公司": "有限责任公司", "有限责任公司": "有限公司"}.get(form, "有限公司")
            codes.append("legal_form")
        if rng.random() < r["region_bracket"]:
            bracket = not bracket
            codes.append("region_bracket")
        if rng.random() < r["region_suffix"] and not bracket:
            region += "市"
            codes.append("region_suffix")
        if rng.random() < r["region_drop"]:
            region = ""
            codes.append("region_drop")
        if bracket and region:
            text = f"{stem}（{region}）{industry}{form}"
        else:
            text = f"{region}{stem}{industry}{form}"
        if rng.random() < r["typo"]:
            pos = rng.randrange(len(region), len(region) + len(stem))
            text = text[:pos] + rng.choice([ch for ch in TYPO_POOL if ch != text[pos]]) \
                + text[pos + 1:]
            codes.append("typo")
    if rng.random() < r["traditional"]:
        text = to_traditional(text)
        codes.append("traditional")
    if rng.random() < r["width"]:
        if "（" in text:
            left, right = rng.choice((("(", ")"), ("【", "】"), ("［", "］")))
            text = text.replace("（", left).replace("）", right)
        else:
            pos = rng.randrange(1, len(text))
            text = text[:pos] + "\u3000" + text[pos:]
        codes.append("width")
    if rng.random() < r["space"]:
        where = rng.random()
        if where < 0.3:
            text = " " + text
        elif where < 0.6:
            text = text + "  "
        else:
            pos = rng.randrange(1, len(text))
            text = text[:pos] + " " + text[pos:]
        codes.append("space")
    return text, "+".join(codes) or "clean"


def typed_uscc(rng: random.Random, c: Company, others: list[Company], department: str,
               blank: float, mess: float = 1.0) -> tuple[str | None, str]:
    roll = rng.random()
    if roll < blank:
        return None, "uscc_blank"
    code = c.uscc
    for kind in ("uscc_other", "uscc_transposed", "uscc_lower", "uscc_spaced", "uscc_dashed",
                 "uscc_fullwidth"):
        if rng.random() >= RATES[kind] * mess:
            continue
        if kind == "uscc_other":
            return rng.choice(others).uscc, kind
        if kind == "uscc_transposed":
            i = rng.randrange(8, 16)
            while code[i] == code[i + 1]:
                i = rng.randrange(8, 16)
            return code[:i] + code[i + 1] + code[i] + code[i + 2:], kind
        if kind == "uscc_lower":
            return code.lower(), kind
        if kind == "uscc_spaced":
            return " ".join(code[i:i + 4] for i in range(0, 18, 4)), kind
        if kind == "uscc_dashed":
            return f"{code[:2]}-{code[2:8]}-{code[8:17]}-{code[17]}", kind
        return to_full_width(code), kind
    return code, "clean"


def phone_text(rng: random.Random, phone: tuple[str, ...]) -> tuple[str, str, str]:
    """(as typed, canonical form staging must produce, flavour)."""
    if phone[0] == "mobile":
        m = phone[1]
        forms = {
            "plain": m, "dashed": f"{m[:3]}-{m[3:7]}-{m[7:]}",
            "spaced": f"{m[:3]} {m[3:7]} {m[7:]}",
            "plus86": f"+86 {m[:3]} {m[3:7]} {m[7:]}", "0086": f"0086 {m[:3]} {m[3:7]} {m[7:]}",
            "plus86_dash": f"+86-{m}", "plus86_tight": f"+86{m}", "paren86": f"(+86){m}",
            "fullwidth": to_full_width(m),
        }
        flavour = rng.choice(list(forms))
        return forms[flavour], m, f"mobile_{flavour}"
    _, area, number = phone
    short = area[1:]
    ext = str(rng.randint(100, 8999))
    forms = {
        "dash": f"{area}-{number}", "paren": f"({area}){number[:4]}-{number[4:]}",
        "paren_tight": f"({area}){number}", "spaced": f"{area} {number[:4]} {number[4:]}",
        "tight": f"{area}{number}", "plus86": f"+86-{short}-{number}",
        "plus86_spaced": f"+86 {short} {number[:4]} {number[4:]}",
        "0086": f"0086-{short}-{number}", "plus86_zero": f"+86 {area} {number}",
        "ext_dash": f"{area}-{number}-{ext}", "ext_zhuan": f"{area}-{number}转{ext}",
        "fullwidth": to_full_width(f"{area}-{number}"),
    }
    flavour = rng.choice(list(forms))
    return forms[flavour], f"{area}-{number}", f"landline_{flavour}"


def money(value: float, places: int = 2) -> Decimal:
    return Decimal(str(round(value, places))).quantize(Decimal(1).scaleb(-places),
                                                       ROUND_HALF_UP)


def amount_text(rng: random.Random, value: Decimal, flavours: tuple[str, ...] | None = None
                ) -> tuple[str, str]:
    """An amount as text in one of the ways finance systems and spreadsheets write it."""
    flavours = flavours or ("plain", "separated", "separated", "padded", "fullwidth",
                            "fullwidth_comma", "whole")
    flavour = rng.choice(flavours)
    places = max(0, -value.as_tuple().exponent)
    if flavour == "whole" and value != value.to_integral_value():
        flavour = "separated"
    sep = f"{value:,.{places}f}"
    text = {
        "plain": f"{value:.{places}f}", "separated": sep, "padded": f" {sep} ",
        "fullwidth": to_full_width(sep), "fullwidth_comma": sep.replace(",", "，"),
        "whole": f"{value:.0f}",
    }[flavour]
    if value < 0 and rng.random() < 0.3:
        text, flavour = f"({sep[1:]})", "parentheses"
    return text, f"amount_{flavour}"


def expected_amount(value: Decimal, multiplier: int) -> str:
    amount = (value * multiplier).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return str(abs(amount) if amount == 0 else amount)  # "-0.00" is 0.00


def excel_serial(d: date) -> int:
    return (d - date(1899, 12, 30)).days


def date_text(rng: random.Random, d: date, flavours: tuple[str, ...]) -> tuple[str, str]:
    flavour = rng.choice(flavours)
    text = {
        "iso": d.isoformat(), "slash_padded": d.strftime("%Y/%m/%d"),
        "slash": f"{d.year}/{d.month}/{d.day}", "chinese": f"{d.year}年{d.month}月{d.day}日",
        "serial": str(excel_serial(d)), "serial_float": f"{excel_serial(d)}.0",
        "slash_time": f"{d.year}/{d.month}/{d.day} 0:00",
        "iso_offset": f"{d.isoformat()}T00:00:00+08:00",
    }[flavour]
    return text, f"date_{flavour}"


def timestamp_text(rng: random.Random, t: datetime) -> tuple[str, str, str]:
    """ISO 8601 with +08:00 in the ways services write it, now and then in UTC (`Z`); (text,
    expected Beijing wall clock, flavour)."""
    flavour = rng.choice(("seconds", "seconds", "millis", "space", "minutes"))
    text = {
        "seconds": t.strftime("%Y-%m-%dT%H:%M:%S+08:00"),
        "millis": t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{rng.randrange(1000):03d}+08:00",
        "space": t.strftime("%Y-%m-%d %H:%M:%S+08:00"),
        "minutes": t.strftime("%Y-%m-%dT%H:%M+08:00"),
    }[flavour]
    expected = t.replace(second=0) if flavour == "minutes" else t
    if flavour == "seconds" and (t.minute + t.second) % 17 == 0:
        # a service that writes UTC (ISO 8601 all the same): chosen without a draw from `rng`,
        # so every other value of the deliveries stays as it was
        text, flavour = (t - timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%SZ"), "utc"
    return text, expected.strftime("%Y-%m-%d %H:%M:%S"), f"timestamp_{flavour}"


# ------------------------------------------------------------------------------ file model
MISSING = object()  # JSON: leave the key out (null and missing are different flavours)


@dataclass
class Row:
    values: dict
    expect: list[tuple[str, str, str | None, str]] = field(default_factory=list)
    broken: tuple[str, str] | None = None  # (flavour, reason substring)
    truth: tuple[str, str, str] | None = None  # (record_id, company_id, mess)

    def put(self, column: str, value, kind: str | None = None, expected: str | None = None,
            flavour: str = "") -> None:
        self.values[column] = value
        if kind:
            self.expect.append((column, kind, expected, flavour))


@dataclass
class FileStyle:
    encoding: str  # python codec of the bytes written
    manifest_encoding: str | None  # what the manifest says (None: key left out)
    line_end: str = "\n"
    quote_all: bool = False
    bom: bool = False
    shuffle_columns: bool = False
    extra_column: str | None = None
    drop_column: str | None = None
    trailing_blank_lines: int = 0
    blank_lines_inside: int = 0  # JSONL
    ensure_ascii: bool = False  # JSONL: \\u escapes
    trailing_delimiter: bool = False  # CSV: every line ends with a comma (empty last header)
    parquet: dict = field(default_factory=dict)  # column -> pyarrow type


@dataclass
class Delivery:
    department: str
    extract_date: date
    files: dict[str, tuple[Entity, list[Row], FileStyle]] = field(default_factory=dict)
    manifest: bool = True
    manifest_row_offset: dict[str, int] = field(default_factory=dict)


# ------------------------------------------------------------------------------- generator
class _Generator:
    def __init__(self, companies: int, months: int, start: str, seed: int,
                 credit_world: bool = False, mess_scale: float = 1.0) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.mess = mess_scale
        year, month = (int(x) for x in start.split("-"))
        self.months = [month_end(year, month + i) for i in range(months)]
        self.world = build_world(self.rng, companies)
        self.truth: list[tuple[str, str, str, str, str]] = []
        coverage = {"crm": 0.85, "finance": 0.55, "risk": 0.4, "projects": 0.3, "service": 0.5,
                    "external": 0.45}
        for c in self.world:
            for department, share in coverage.items():
                if self.rng.random() < share * min(1.5, 0.7 + 0.3 * c.size):
                    c.first_month[department] = 0 if self.rng.random() < 0.8 else \
                        self.rng.randrange(months)
        # latent credit health, growth and defaults (tiering/testing/variant_credit.py)
        self.credit = CreditWorld(self.world, months, seed) if credit_world else None
        self.serial = 0
        self.project_codes: list[str] = []
        self.codes: set[str] = set()

    # --- helpers
    def members(self, department: str, month: int) -> list[Company]:
        return [c for c in self.world if c.first_month.get(department, 99) <= month]

    def next_id(self) -> int:
        self.serial += 1
        return self.serial

    def code(self, prefix: str, digits: int) -> str:
        """A random identifier no record holds yet (CRM123456, F1234567)."""
        while True:
            code = f"{prefix}{self.rng.randrange(10 ** digits):0{digits}d}"
            if code not in self.codes:
                self.codes.add(code)
                return code

    def junk(self, ent: Entity, month: int, rows: list[Row], kinds: tuple[str, ...]) -> None:
        """1-2 rows broken on purpose (not company records: outside the truth); the kinds
        rotate over the months so that every kind occurs."""
        for j in range(self.rng.choice((1, 1, 2))):
            kind = kinds[(month + j) % len(kinds)]
            row = Row({c: None for c in ent.columns})
            key = ent.key[0]
            row.values[key] = f"X{self.next_id():07d}"
            reason = {"extra_column": "wrong column count", "few_columns": "wrong column count",
                      "undecodable": "undecodable bytes", "truncated": "not valid JSON",
                      "array": "not a JSON object", "blank_key": f"key field {key} is missing",
                      "bad_number": "is not a valid number", "bad_date": "is not a valid date",
                      }[kind]
            if kind == "blank_key":
                row.values[key] = "  " if ent.fmt == "csv" else None
            if kind == "bad_number":
                column = NUMERIC[(ent.department, ent.name)][0]
                row.values[column] = "待核实"
                reason = f"field {column} is not a valid number"
            if kind == "bad_date":
                column = DATES[(ent.department, ent.name)][0]
                row.values[column] = "下月初"
                reason = f"field {column} is not a valid date"
            row.broken = (kind, reason)
            rows.insert(self.rng.randrange(len(rows) + 1), row)

    def duplicate_line(self, month: int, rows: list[Row]) -> None:
        """In the last month, one row written twice (an export that repeated a line): both
        lines load, staging keeps the later of a key's rows in a delivery, and the raw gate
        warns about the repeated key. Chosen without a draw from the random stream, so every
        other value stays as it was."""
        if month != len(self.months) - 1:
            return
        whole = [i for i, row in enumerate(rows) if row.broken is None]
        original = rows[whole[len(whole) // 2]]
        rows.insert(whole[len(whole) // 2] + 1,
                    Row(dict(original.values), original.expect, truth=original.truth))
        original.expect = []  # its values are checked on the later line, the one staging keeps

    # --- departments
    def crm(self, month: int, records: dict) -> list[Row]:
        rng, rows = self.rng, []
        extract = self.months[month]
        for c in self.members("crm", month):
            if c.id not in records:
                ids = [self.code("CRM", 6)]
                if rng.random() < 0.04:
                    ids.append(self.code("CRM", 6))  # entered twice
                records[c.id] = [self.crm_record(c, crm_id, extract) for crm_id in ids]
            for record in records[c.id]:
                if rng.random() < 0.1:  # touched this month
                    record["updated_at"] = _clock(rng, extract - timedelta(days=rng.randrange(25)))
                rows.append(self.crm_row(record))
        self.duplicate_line(month, rows)
        if month == len(self.months) - 1:  # a client type the contract does not list: a warning
            whole = [row for row in rows if row.broken is None]
            whole[len(whole) // 3].values["client_type"] = "集体企业"
        self.junk(entity("crm", "clients"), month, rows,
                  ("extra_column", "few_columns", "undecodable", "blank_key", "bad_date"))
        return rows

    def crm_record(self, c: Company, crm_id: str, extract: date) -> dict:
        rng = self.rng
        name, mess = typed_name(rng, c, NAME_SCALE["crm"] * self.mess)
        uscc, uscc_mess = typed_uscc(rng, c, self.world, "crm", USCC_BLANK["crm"], self.mess)
        phone, canonical, flavour = phone_text(rng, c.phone)
        created = extract - timedelta(days=rng.randrange(30, 2000))
        province = c.province if rng.random() < 0.5 else PROVINCE_LONG.get(
            c.province, c.province + ("市" if c.province in MUNICIPALITIES else "省"))
        industry = INDUSTRIES[c.industry][2] if c.industry >= 0 else "集团/综合"
        if rng.random() < 0.05:
            industry = f'"{industry}"企业'  # quotes inside a field
        if rng.random() < 0.03:
            industry += "\n（重点客户）"  # a newline inside a quoted field
        record = {
            "crm_id": crm_id, "client_name": name, "uscc": uscc, "contact_name": person(rng),
            "contact_phone": phone, "email": f"{rng.choice('abcdefghkmnpqrstwxyz')}"
            f"{rng.randrange(10**5)}@{rng.choice(EMAIL_DOMAINS)}",
            "province": province, "city": c.region + ("市" if rng.random() < 0.5 else ""),
            "industry": industry, "client_type": rng.choice(CLIENT_TYPES),
            "account_manager": person(rng) + ("，" + person(rng) if rng.random() < 0.1 else ""),
            "association_member": rng.choice(("是", "否", None)),
            "listed": rng.choice(("Y", "N", None, "N")),
            "created_at": _clock(rng, created), "updated_at": None,
            "_mess": "+".join(m for m in (mess, uscc_mess) if m != "clean") or "clean",
            "_company": c.id, "_phone": (canonical, flavour),
        }
        record["updated_at"] = record["created_at"]
        self.truth.append(("crm", "clients", crm_id, c.id, record["_mess"]))
        return record

    def crm_row(self, record: dict) -> Row:
        row = Row({k: v for k, v in record.items() if not k.startswith("_")})
        canonical, flavour = record["_phone"]
        row.expect += [("contact_phone", "phone", canonical, flavour)]
        for column in ("created_at", "updated_at"):
            row.expect.append((column, "timestamp", record[column], "timestamp_crm"))
        for column, value in (("association_member", record["association_member"]),
                              ("listed", record["listed"])):
            if value:
                row.expect.append((column, "boolean", str(value in ("是", "Y")).lower(),
                                   f"boolean_{value}"))
        row.truth = (record["crm_id"], record["_company"], record["_mess"])
        return row

    def finance(self, month: int, state: dict) -> dict[str, list[Row]]:
        rng = self.rng
        extract = self.months[month]
        customers, receipts, statements = [], [], []
        for c in self.members("finance", month):
            if c.id not in state:
                codes = [self.code("F", 7)]
                if rng.random() < 0.015:
                    codes.append(self.code("F", 7))
                state[c.id] = []
                for code in codes:
                    name, mess = typed_name(rng, c, NAME_SCALE["finance"] * self.mess)
                    if rng.random() < 0.12:
                        tax_id, tax_mess = CITIES[c.city][2] + c.org, "uscc_legacy"
                    else:
                        tax_id, tax_mess = typed_uscc(rng, c, self.world, "finance",
                                                      USCC_BLANK["finance"], self.mess)
                    mess = "+".join(m for m in (mess, tax_mess) if m != "clean") or "clean"
                    state[c.id].append({"customer_code": code, "customer_name": name,
                                        "tax_id": tax_id, "_mess": mess,
                                        "_files": rng.random() < 0.6})
                    self.truth.append(("finance", "customers", code, c.id, mess))
            for record in state[c.id]:
                row = Row({k: v for k, v in record.items() if not k.startswith("_")})
                row.truth = (record["customer_code"], c.id, record["_mess"])
                customers.append(row)
                for _ in range(_poisson(rng, 0.9 * min(3.0, c.size))):
                    receipts.append(self.receipt(record["customer_code"], extract, c,
                                                 month=month))
                if record["_files"]:
                    for year in (extract.year - 2, extract.year - 1):
                        statements.append(self.statement(record["customer_code"], year, c))
        # corrections: a few receipts of last month delivered again with another amount
        for row in state.get("_last_receipts", [])[:max(1, len(receipts) // 80)]:
            again = self.receipt(row.values["customer_code"], extract, None,
                                 voucher=row.values["voucher_no"])
            receipts.append(again)
        state["_last_receipts"] = [r for r in receipts if r.broken is None]
        self.duplicate_line(month, receipts)
        self.junk(entity("finance", "customers"), month, customers,
                  ("extra_column", "undecodable", "blank_key"))
        self.junk(entity("finance", "receipts"), month, receipts,
                  ("few_columns", "undecodable", "bad_number", "bad_date"))
        self.junk(entity("finance", "statements"), month, statements, ("extra_column",))
        return {"customers": customers, "receipts": receipts, "statements": statements}

    def receipt(self, customer: str, extract: date, c: Company | None,
                voucher: str | None = None, month: int | None = None) -> Row:
        rng = self.rng
        row = Row({})
        voucher = voucher or f"记{extract:%Y%m}-{self.next_id():05d}号"
        day = extract - timedelta(days=rng.randrange(28))
        reversal = rng.random() < 0.02
        wan = rng.random() < 0.2
        value = money(rng.lognormvariate(11, 1.3) * (c.size if c else 1), 2)
        if self.credit and c is not None and month is not None:
            value = money(float(value) * self.credit.income_factor(c.id, month), 2)
        if wan:
            value = money(float(value) / 10000, 4)
        if reversal:
            value = -value
        text, flavour = amount_text(rng, value)
        date_value, date_flavour = date_text(rng, day, ("slash_padded",) * 8 + ("slash",))
        row.put("voucher_no", voucher)
        row.put("customer_code", customer)
        row.put("receipt_date", date_value, "date", day.isoformat(), date_flavour)
        row.put("amount", text, "amount", expected_amount(value, 10000 if wan else 1),
                flavour + ("_wan" if wan else ""))
        row.put("unit", "万元" if wan else "元")
        row.put("fee_type", "冲销" if reversal else rng.choice(FEE_TYPES))
        row.put("project_code", rng.choice(self.project_codes) if self.project_codes
                and rng.random() < 0.3 else None)
        return row

    def statement(self, customer: str, year: int, c: Company) -> Row:
        rng = self.rng
        # the year as finance systems label it: 2025, 2025年, 2025年度 or FY2025 (chosen by the
        # customer and year, not the generator's random stream, so nothing else changes)
        style = zlib.crc32(f"{customer}|{year}".encode()) % 20
        label = {0: f"{year}年", 1: f"{year}年度", 2: f"FY{year}"}.get(style, str(year))
        row = Row({"customer_code": customer, "fiscal_year": label})
        row.expect.append(("fiscal_year", "integer", str(year),
                           {0: "year_nian", 1: "year_niandu", 2: "year_fy"}.get(
                               style, "integer_text")))
        base = 800 * c.size
        values = {
            "revenue": (0.8, 1.5), "net_profit": (-0.1, 0.12), "total_assets": (1.5, 4),
            "total_liabilities": (0.5, 3), "current_assets": (0.5, 2),
            "current_liabilities": (0.3, 1.5), "operating_cash_flow": (-0.2, 0.3),
            "interest_expense": (0, 0.05),
        }
        first = self.months[0]
        credit = self.credit.statement(
            c.id, year, (year - first.year) * 12 + 12 - first.month, year - first.year, base,
            self.seed) if self.credit else {}
        for column, (low, high) in values.items():
            value = money(base * rng.uniform(low, high), 2)
            if column in credit:
                value = money(credit[column], 2)
            text, flavour = amount_text(rng, value)
            row.put(column, text, "amount", expected_amount(value, 10000), flavour)
        audited = rng.choice(("是", "否"))
        row.put("audited", audited, "boolean", str(audited == "是").lower(), "boolean_audited")
        return row

    def risk(self, month: int, state: dict) -> dict[str, list[Row]]:
        rng = self.rng
        extract = self.months[month]
        profiles, events = [], []
        for c in self.members("risk", month):
            if c.id not in state:
                number = f"R{extract.year}{self.next_id():05d}"
                name, mess = typed_name(rng, c, NAME_SCALE["risk"] * self.mess)
                uscc, uscc_mess = typed_uscc(rng, c, self.world, "risk", USCC_BLANK["risk"],
                                             self.mess)
                mess = "+".join(m for m in (mess, uscc_mess) if m != "clean") or "clean"
                state[c.id] = {"number": number, "name": name, "uscc": uscc, "mess": mess,
                               "limit": money(rng.choice((5, 10, 20, 50, 80)) * 1e6 * c.size, 0)}
                self.truth.append(("risk", "credit_profiles", number, c.id, mess))
            s = state[c.id]
            row = Row({})
            row.put("risk_client_no", s["number"])
            row.put("uscc", s["uscc"] if s["uscc"] is not None else rng.choice((None, MISSING)))
            row.put("client_name", s["name"])
            rating = rng.choice(RATINGS[:7])
            row.put("internal_rating", self.credit.rating(c.id, month) if self.credit else rating)
            rated = extract - timedelta(days=rng.randrange(20, 200))
            text, flavour = date_text(rng, rated, ("iso", "iso", "iso_offset", "slash_padded",
                                                   "chinese"))
            row.put("rating_date", text, "date", rated.isoformat(), flavour)
            limit = float(s["limit"])
            for column, value in (("credit_limit", s["limit"]),
                                  ("outstanding_balance", money(limit * rng.random(), 2)),
                                  ("collateral_value", money(limit * rng.uniform(0, 1.5), 2))):
                value_out, flavour = _json_number(rng, value)
                row.put(column, value_out, "amount", expected_amount(value, 1), flavour)
            overdue = rng.choice((0, 0, 0, 5, 30, 91))
            if self.credit:
                overdue = self.credit.overdue_days(c.id, month)
            value_out, flavour = _json_number(rng, Decimal(overdue))
            row.put("max_overdue_days", value_out, "integer", str(overdue), flavour)
            row.put("guarantee_type", rng.choice(("信用", "保证", "抵押", "质押")))
            watch = rng.random() < 0.1
            if self.credit:
                watch = self.credit.on_watchlist(c.id, month)
            style = rng.choice(("bool", "bool", "text"))
            row.put("on_watchlist", watch if style == "bool" else str(watch).lower(), "boolean",
                    str(watch).lower(), f"boolean_json_{style}")
            row.truth = (s["number"], c.id, s["mess"])
            profiles.append(row)
            if self.credit:  # by the company's health, 违约 only when it defaults
                for event_type in self.credit.events(c.id, month):
                    events.append(self.event(s["number"], extract, event_type))
            else:
                for _ in range(_poisson(rng, 0.15)):
                    events.append(self.event(s["number"], extract))
        self.junk(entity("risk", "credit_profiles"), month, profiles,
                  ("truncated", "array", "undecodable", "blank_key"))
        self.junk(entity("risk", "risk_events"), month, events, ("truncated", "bad_date"))
        return {"credit_profiles": profiles, "risk_events": events}

    def event(self, number: str, extract: date, event_type: str | None = None) -> Row:
        rng = self.rng
        row = Row({})
        row.put("event_id", f"EV-{self.next_id():06d}")
        row.put("risk_client_no", number)
        day = extract - timedelta(days=rng.randrange(28))
        text, flavour = date_text(rng, day, ("iso", "iso_offset", "slash_padded"))
        row.put("event_date", text, "date", day.isoformat(), flavour)
        drawn = rng.choice(EVENT_TYPES)
        row.put("event_type", event_type or drawn)
        if rng.random() < 0.3:
            row.put("amount", rng.choice((None, MISSING)))
        else:
            value = money(rng.lognormvariate(13, 1), 2)
            out, flavour = _json_number(rng, value)
            row.put("amount", out, "amount", expected_amount(value, 1), flavour)
        severity = rng.randint(1, 3)
        out, flavour = _json_number(rng, Decimal(severity))
        row.put("severity", out, "integer", str(severity), flavour)
        row.put("note", rng.choice(("", "客户称\"资金周转困难\"", "已发律师函\n待回复", None)))
        return row

    def projects(self, month: int, state: dict) -> dict[str, list[Row]]:
        extract = self.months[month]
        partners = self.members("projects", month)
        if "projects" not in state:
            state["projects"] = []
        wanted = max(4, len([c for c in self.world if "projects" in c.first_month]) // 4)
        while len(state["projects"]) < wanted * (month + 3) // (len(self.months) + 2):
            state["projects"].append(self.project(len(state["projects"]), partners, extract))
        projects, participations = [], []
        for p in state["projects"]:
            row = Row({k: v for k, v in p.items() if not k.startswith("_")})
            row.expect = list(p["_expect"])
            projects.append(row)
            for values, expect, truth in p["_partners"]:
                participations.append(Row(dict(values), list(expect), truth=truth))
        self.junk(entity("projects", "projects"), month, projects, ("extra_column", "bad_date"))
        self.junk(entity("projects", "participations"), month, participations,
                  ("few_columns", "undecodable"))
        return {"projects": projects, "participations": participations}

    def project(self, index: int, partners: list[Company], extract: date) -> dict:
        rng = self.rng
        kind = rng.choice(PROJECT_TYPES)
        lead = rng.choice(partners)
        code = rng.choice((f"XM{extract.year - rng.randrange(3)}-{index + 1:03d}",
                           f"{lead.region}-GC-{index + 1:04d}"))
        self.project_codes.append(code)
        start = extract - timedelta(days=rng.randrange(0, 900))
        end = start + timedelta(days=rng.randrange(300, 1500))
        date_flavours = ("iso", "slash", "chinese", "serial", "serial_float", "slash_time")
        p: dict = {"project_code": code, "_expect": []}
        name = f"{lead.region}{PROJECT_WORDS[kind]}项目"
        if rng.random() < 0.2:
            name += rng.choice(("（一期,二期）", "\n（含配套）", ' "示范"工程'))
        p.update({"project_name": name, "project_type": kind, "province": lead.province,
                  "city": lead.region + rng.choice(("", "市"))})
        total = money(rng.uniform(0.5, 80), 2)
        need = money(rng.uniform(500, 90000), 0)
        for column, value, multiplier in (("total_investment", total, 100_000_000),
                                          ("financing_need", need, 10_000)):
            text, flavour = amount_text(rng, value, ("plain", "separated", "whole", "padded"))
            p[column] = text
            p["_expect"].append((column, "amount", expected_amount(value, multiplier), flavour))
        p["risk_level"] = rng.choice(("低", "中", "高"))
        p["status"] = rng.choice(("储备", "在建", "已完工", "已终止"))
        for column, day in (("start_date", start), ("planned_end_date", end)):
            if rng.random() < 0.05:
                p[column] = None
                continue
            text, flavour = date_text(rng, day, date_flavours)
            p[column] = text
            p["_expect"].append((column, "date", day.isoformat(), flavour))
        taken: set[tuple[str, str]] = set()
        p["_partners"] = []
        for c in [lead] + rng.sample(partners, min(len(partners), rng.randint(0, 5))):
            role = "借款人" if c is lead else rng.choice(ROLES)
            name, mess = typed_name(rng, c, NAME_SCALE["projects"] * self.mess)
            if (name, role) in taken:
                continue
            taken.add((name, role))
            values: dict = {"project_code": code, "partner_name": name, "role": role}
            expect = []
            for column in ("committed_amount", "contributed_amount"):
                if rng.random() < 0.15:
                    values[column] = None
                    continue
                value = money(rng.uniform(100, 20000), rng.choice((0, 2)))
                text, flavour = amount_text(rng, value, ("plain", "separated", "padded"))
                values[column] = text
                expect.append((column, "amount", expected_amount(value, 10_000), flavour))
            values["performance_rating"] = rng.choice(("优", "良", "中", "差", None))
            on_time = rng.choice(("是", "否", None))
            values["delivered_on_time"] = on_time
            if on_time:
                expect.append(("delivered_on_time", "boolean", str(on_time == "是").lower(),
                               f"boolean_{on_time}"))
            record_id = f"{code}|{name}|{role}"
            p["_partners"].append((values, expect, (record_id, c.id, mess)))
            self.truth.append(("projects", "participations", record_id, c.id, mess))
        return p

    def service(self, month: int, state: dict) -> list[Row]:
        rng = self.rng
        extract = self.months[month]
        tickets = []
        for row in state.get("open", []):  # closed now: delivered again (a correction)
            again = Row(dict(row.values), [e for e in row.expect if e[0] != "closed_at"],
                        truth=row.truth)
            closed = datetime(extract.year, extract.month, 1, 10, 0)
            text, expected, flavour = timestamp_text(rng, closed)
            again.put("closed_at", text, "timestamp", expected, flavour)
            tickets.append(again)
        state["open"] = []
        for c in self.members("service", month):
            for _ in range(_poisson(rng, 0.6)):
                tickets.append(self.ticket(c, extract, state))
        self.junk(entity("service", "tickets"), month, tickets,
                  ("truncated", "undecodable", "array", "bad_date"))
        return tickets

    def ticket(self, c: Company, extract: date, state: dict) -> Row:
        rng = self.rng
        row = Row({})
        ticket_id = f"TK{extract:%Y%m}{self.next_id():06d}"
        row.put("ticket_id", ticket_id)
        opened = datetime(extract.year, extract.month, rng.randint(1, extract.day),
                          rng.randint(8, 19), rng.randrange(60), rng.randrange(60))
        text, expected, flavour = timestamp_text(rng, opened)
        row.put("opened_at", text, "timestamp", expected, flavour)
        if rng.random() < 0.15 and extract != self.months[-1]:
            row.put("closed_at", rng.choice((None, MISSING)))
            state["open"].append(row)
        else:
            closed = min(opened + timedelta(hours=rng.randint(1, 72)),
                         datetime(extract.year, extract.month, extract.day, 23, 0))
            text, expected, flavour = timestamp_text(rng, closed)
            row.put("closed_at", text, "timestamp", expected, flavour)
        mess: list[str] = []
        if rng.random() < 0.2:
            phone, canonical, flavour = phone_text(rng, _phone(rng, c.city, True))
            mess.append("other_phone")
        else:
            phone, canonical, flavour = phone_text(rng, c.phone)
        row.put("caller_phone", phone, "phone", canonical, flavour)
        row.put("caller_name", person(rng))
        if rng.random() < 0.5:
            row.put("company_mentioned", rng.choice((None, MISSING)))
            mess.append("no_name")
        else:
            name, name_mess = typed_name(rng, c, NAME_SCALE["service"] * self.mess)
            row.put("company_mentioned", name)
            mess += [] if name_mess == "clean" else [name_mess]
        row.put("channel", rng.choice(("电话", "微信", "邮件", "现场")))
        row.put("category", rng.choice(("咨询", "投诉", "表扬", "催办", "建议")))
        if rng.random() < 0.3:
            row.put("satisfaction", rng.choice((None, MISSING)))
        else:
            score = rng.randint(1, 5)
            out, flavour = _json_number(rng, Decimal(score))
            row.put("satisfaction", out, "integer", str(score), flavour)
        row.truth = (ticket_id, c.id, "+".join(mess) or "clean")
        self.truth.append(("service", "tickets", ticket_id, c.id, row.truth[2]))
        return row

    def external(self, month: int, state: dict) -> list[Row]:
        rng = self.rng
        rows = []
        for c in self.members("external", month):
            if c.id not in state:
                founded = date(rng.randint(1995, 2022), rng.randint(1, 12), rng.randint(1, 28))
                state[c.id] = {"founded": founded,
                               "capital": money(rng.choice((100, 500, 1000, 5000)) * c.size, 4),
                               "associations": rng.sample(ASSOCIATIONS, rng.choice((0, 0, 1, 2)))}
                self.truth.append(("external", "registry", c.uscc, c.id, "clean"))
            s = state[c.id]
            row = Row({})
            row.put("uscc", c.uscc)
            row.put("registered_name", c.name())
            row.put("former_names", [c.former_name] if c.former_name else
                    rng.choice(([], None)))
            row.put("legal_representative", c.legal_rep)
            row.put("registered_capital", s["capital"], "amount",
                    expected_amount(s["capital"], 10_000), "parquet_capital")
            row.put("established_date", s["founded"], "date", s["founded"].isoformat(),
                    "parquet_date")
            status = rng.choice(("存续", "在业", "存续", "吊销"))
            if self.credit:
                status = self.credit.registration_status(c.id, month, status)
            row.put("registration_status", status)
            row.put("industry_code", INDUSTRIES[c.industry][1] if c.industry >= 0 else "L7212")
            row.put("province", PROVINCE_LONG.get(c.province, c.province + (
                "市" if c.province in MUNICIPALITIES else "省")))
            row.put("city", c.region + "市")
            row.put("listed_board", rng.choice((None, None, None, "主板", "创业板", "科创板")))
            row.put("association_memberships", s["associations"] or rng.choice(([], None)))
            for column in ("litigation_count_12m", "penalty_count_12m"):
                n = rng.choice((0, 0, 0, 1, 2, 5, None))
                if self.credit and n is not None:
                    n = self.credit.registry_count(c.id, month, column)
                if n is None:  # unknown: null, or NaN where the column is a float
                    row.put(column, None)
                else:
                    row.put(column, n, "integer", str(n), "parquet_count")
            score = rng.randint(350, 900)
            if self.credit:
                score = self.credit.bureau_score(c.id, month)
            row.put("bureau_score", score, "integer", str(score), "parquet_integer")
            row.truth = (c.uscc, c.id, "clean")
            rows.append(row)
        if month == 1:  # a registry row without its key
            junk = Row({k: None for k in entity("external", "registry").columns})
            junk.values.update({"registered_name": "无代码企业有限公司", "former_names": [],
                                "association_memberships": []})
            junk.broken = ("blank_key", "key field uscc is missing")
            rows.insert(rng.randrange(len(rows) + 1), junk)
        return rows


def _json_number(rng: random.Random, value: Decimal) -> tuple[object, str]:
    """A number as a JSON number or as a string (both occur in JSON Lines exports)."""
    flavour = rng.choice(("number", "number", "string", "float"))
    if flavour == "string":
        return str(value), "json_string"
    if flavour == "float" or value != value.to_integral_value():
        return float(value), "json_float"
    return int(value), "json_integer"


def _clock(rng: random.Random, d: date) -> str:
    hour, minute, second = rng.randint(8, 20), rng.randrange(60), rng.randrange(60)
    return f"{d.isoformat()} {hour:02d}:{minute:02d}:{second:02d}"


def month_end(year: int, month: int) -> date:
    """The last day of a month; `month` may run past 12 (13 = January of the next year)."""
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return nxt - timedelta(days=1)


# Departments that cut on the last business day with business_day_cuts: the two that define
# the periods (crm, risk) and one incremental entity.
BUSINESS_DAY_DEPARTMENTS = ("crm", "risk", "service")


def last_business_day(day: date) -> date:
    """`day`, or the Friday before it when it falls on a weekend."""
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


# ---------------------------------------------------------------------------------- writers
def _csv_bytes(ent: Entity, rows: list[Row], style: FileStyle, rng: random.Random
               ) -> tuple[bytes, list[int]]:
    columns = [c for c in ent.columns if c != style.drop_column]
    if style.shuffle_columns:
        rng.shuffle(columns)
    if style.extra_column:
        columns.insert(rng.randrange(len(columns) + 1), style.extra_column)
    quoting = csv.QUOTE_ALL if style.quote_all else csv.QUOTE_MINIMAL

    def line(values: list[str]) -> str:
        buffer = io.StringIO()  # "\r\n": fields holding either character are quoted
        csv.writer(buffer, quoting=quoting, lineterminator="\r\n").writerow(values)
        return buffer.getvalue()[:-2] + ("," if style.trailing_delimiter else "")

    chunks = [line(columns).encode(style.encoding) + style.line_end.encode()]
    numbers = []
    for number, row in enumerate(rows, start=1):
        numbers.append(number)
        values = ["" if (v := row.values.get(c)) is None else str(v) for c in columns]
        if style.extra_column:
            values[columns.index(style.extra_column)] = rng.choice(("", "备注", "VIP", "已核对"))
        kind = row.broken[0] if row.broken else None
        if kind == "extra_column":
            text = line(values) + ',"多余的一列"'
        elif kind == "few_columns":
            text = line(values[:3])
        else:
            text = line(values)
        data = text.encode(style.encoding)
        if kind == "undecodable":
            cut = data.index(b",") + 1
            data = data[:cut] + b"\xff\xfe" + data[cut:]
        chunks.append(data + style.line_end.encode())
    chunks.append(style.line_end.encode() * style.trailing_blank_lines)
    body = b"".join(chunks)
    return (b"\xef\xbb\xbf" + body if style.bom else body), numbers


def _jsonl_bytes(ent: Entity, rows: list[Row], style: FileStyle, rng: random.Random
                 ) -> tuple[bytes, list[int]]:
    lines: list[bytes] = []
    numbers: list[int] = []
    blank_at = set(rng.sample(range(len(rows) + 1), min(style.blank_lines_inside, len(rows) + 1)))
    for index, row in enumerate(rows):
        if index in blank_at:
            lines.append(rng.choice((b"", b"   ")))
        keys = [c for c in ent.columns if row.values.get(c, MISSING) is not MISSING]
        if style.shuffle_columns:
            rng.shuffle(keys)
        obj = {k: row.values[k] for k in keys}
        if style.extra_column:
            obj[style.extra_column] = rng.choice((None, 1, "附加"))
        kind = row.broken[0] if row.broken else None
        text = json.dumps(obj, ensure_ascii=style.ensure_ascii,
                          separators=rng.choice(((",", ":"), (", ", ": "))))
        if kind == "truncated":
            text = text[: len(text) // 2]
        elif kind == "array":
            text = json.dumps(list(obj.values()), ensure_ascii=False)
        data = text.encode("utf-8")
        if kind == "undecodable":
            cut = data.index(b'":') + 3
            data = data[:cut] + b"\xff" + data[cut:]
        lines.append(data)
        numbers.append(len(lines))
    body = style.line_end.encode().join(lines) + style.line_end.encode()
    body += style.line_end.encode() * style.trailing_blank_lines
    return (b"\xef\xbb\xbf" + body if style.bom else body), numbers


def _parquet_write(path: Path, ent: Entity, rows: list[Row], style: FileStyle,
                   rng: random.Random) -> list[int]:
    types = {"uscc": pa.string(), "registered_name": pa.string(),
             "former_names": pa.list_(pa.string()), "legal_representative": pa.string(),
             "registered_capital": pa.float64(), "established_date": pa.date32(),
             "association_memberships": pa.list_(pa.string()),
             "litigation_count_12m": pa.int64(), "penalty_count_12m": pa.int64(),
             "bureau_score": pa.int64()} | style.parquet
    columns = [c for c in ent.columns if c != style.drop_column]
    if style.shuffle_columns:
        rng.shuffle(columns)
    arrays = []
    for column in columns:
        kind = types.get(column, pa.string())
        values = [row.values.get(column) for row in rows]
        if pa.types.is_timestamp(kind):
            values = [None if v is None else datetime(v.year, v.month, v.day) for v in values]
            if kind.tz:
                import zoneinfo

                zone = zoneinfo.ZoneInfo(kind.tz)
                values = [None if v is None else v.replace(tzinfo=zone) for v in values]
        elif pa.types.is_string(kind) or pa.types.is_dictionary(kind):
            values = [None if v is None else "、".join(v) if isinstance(v, list) else str(v)
                      for v in values]
        elif pa.types.is_floating(kind):
            values = [float("nan") if v is None else float(v) for v in values]
        array = pa.array(values, kind.value_type if pa.types.is_dictionary(kind) else kind)
        arrays.append(array.dictionary_encode() if pa.types.is_dictionary(kind) else array)
    table = pa.table(arrays, names=columns)
    if style.extra_column:
        table = table.append_column(style.extra_column,
                                    pa.array([rng.choice(("A", None)) for _ in rows]))
    pq.write_table(table, path, row_group_size=max(1, len(rows) // 2))
    return list(range(1, len(rows) + 1))


# ---------------------------------------------------------------------------------- styles
def _styles(rng: random.Random, department: str, month: int) -> dict[str, FileStyle]:
    """How each file of a delivery is written: the flavours rotate over the months."""
    pick = month % 3
    if department == "crm":
        return {"clients": FileStyle(
            "utf-8", rng.choice(("utf-8", "UTF-8", None)), line_end=("\n", "\r\n", "\r\n")[pick],
            quote_all=pick == 1, bom=pick == 2, shuffle_columns=pick == 1,
            extra_column="微信号 (WeChat)" if pick == 2 else None,
            drop_column="email" if pick == 1 else None, trailing_blank_lines=pick)}
    if department == "finance":
        label = ("GBK", "GB2312", None)[pick]  # GB2312: a common label for GBK files
        return {
            "customers": FileStyle("gbk", label, line_end="\r\n", quote_all=pick == 0,
                                   shuffle_columns=pick == 2),
            "receipts": FileStyle("gbk", label, line_end="\r\n", extra_column="摘要" if pick != 1
                                  else None, trailing_blank_lines=1),
            "statements": FileStyle("gbk", label, trailing_delimiter=pick == 2,
                                    shuffle_columns=pick == 1),
        }
    if department == "risk":
        return {
            "credit_profiles": FileStyle("utf-8", "utf-8", line_end=("\n", "\r\n")[pick % 2],
                                         ensure_ascii=pick == 1, shuffle_columns=True,
                                         blank_lines_inside=pick, bom=pick == 2),
            "risk_events": FileStyle("utf-8", None, ensure_ascii=pick == 0,
                                     extra_column="source system" if pick == 2 else None,
                                     trailing_blank_lines=1),
        }
    if department == "projects":
        return {
            "projects": FileStyle("utf-8", "utf-8-sig", line_end="\r\n", bom=pick != 1,
                                  quote_all=pick == 2, shuffle_columns=pick == 2),
            "participations": FileStyle("utf-8", "utf-8-sig", line_end="\r\n", bom=pick != 0,
                                        trailing_blank_lines=2 if pick == 1 else 0),
        }
    if department == "service":
        return {"tickets": FileStyle("utf-8", rng.choice(("utf-8", None)),
                                     line_end=("\n", "\r\n", "\n")[pick], ensure_ascii=pick == 2,
                                     shuffle_columns=True, blank_lines_inside=1 + pick,
                                     extra_column="agent_id" if pick == 0 else None)}
    return {"registry": FileStyle("n/a", None, shuffle_columns=pick == 2,
                                  extra_column="data_source; v2" if pick == 1 else None,
                                  parquet=(
        {},
        {"established_date": pa.timestamp("ms"), "registered_capital": pa.decimal128(18, 4),
         "former_names": pa.large_list(pa.large_string()), "litigation_count_12m": pa.int32(),
         "registered_name": pa.dictionary(pa.int32(), pa.string())},
        {"established_date": pa.timestamp("us", tz="Asia/Shanghai"),
         "registered_capital": pa.string(), "bureau_score": pa.float64(),
         "penalty_count_12m": pa.float64(),
         # lists written as text: one former name, memberships joined by 、
         "former_names": pa.string(), "association_memberships": pa.string()},
    )[pick])}


# ------------------------------------------------------------------------------------- main
# file names in another case than the contract's (the projects' last month): read as its files
UPPER_CASE_FILE_NAMES = {"projects.csv": "PROJECTS.CSV",
                         "participations.csv": "Participations.csv"}


@dataclass
class VariantSummary:
    deliveries: list[dict]
    rows: dict[str, int]  # source_file -> rows in the manifest
    broken: int
    records: int


def generate(landing: Path, truth: Path, companies: int = 400, months: int = 3,
             start: str = "2025-10", seed: int = 7, bad_deliveries: bool = True,
             credit_world: bool = False, business_day_cuts: bool = False,
             mess_scale: float = 1.0) -> VariantSummary:
    """Write a variant landing zone and its truth. With `bad_deliveries`, finance's second
    delivery claims more receipts than it holds (rejected whole) and crm's month after the last
    is still being written (no manifest: pending). With `credit_world`, the risk, registry and
    finance values follow latent credit health and growth, and the truth gains the defaults
    (tiering/testing/variant_credit.py). With `business_day_cuts`, crm, risk and service cut a
    month ending on a weekend on the Friday before (BUSINESS_DAY_DEPARTMENTS). `mess_scale`
    multiplies the rates of name and identifier mess (RATES but `former`, in every
    department): 2 doubles the typos, dropped regions, wrong USCCs, ..."""
    gen = _Generator(companies, months, start, seed, credit_world, mess_scale)
    states: dict[str, dict] = {d: {} for d in ("crm", "finance", "risk", "projects", "service",
                                                "external")}
    deliveries: list[Delivery] = []
    for month, extract in enumerate(gen.months):
        built = {
            "crm": {"clients": gen.crm(month, states["crm"])},
            "projects": gen.projects(month, states["projects"]),
            "finance": gen.finance(month, states["finance"]),
            "risk": gen.risk(month, states["risk"]),
            "service": {"tickets": gen.service(month, states["service"])},
            "external": {"registry": gen.external(month, states["external"])},
        }
        for department, files in built.items():
            styles = _styles(gen.rng, department, month)
            delivery = Delivery(department, extract)
            for name, rows in files.items():
                delivery.files[f"{name}.{entity(department, name).fmt}"] = (
                    entity(department, name), rows, styles[name])
            deliveries.append(delivery)
    if bad_deliveries:
        if months >= 2:
            finance = next(d for d in deliveries if d.department == "finance"
                           and d.extract_date == gen.months[1])
            finance.manifest_row_offset["receipts.csv"] = 3
        extra = Delivery("crm", month_end(gen.months[-1].year, gen.months[-1].month + 1),
                         manifest=False)
        extra.files["clients.csv"] = (entity("crm", "clients"), gen.crm(len(gen.months) - 1,
                                                                         states["crm"]),
                                      _styles(gen.rng, "crm", 0)["clients"])
        deliveries.append(extra)
    if months >= 2:  # the projects department saves its last month from Excel on Windows
        last = next(d for d in deliveries if d.department == "projects"
                    and d.extract_date == gen.months[-1])
        last.files = {UPPER_CASE_FILE_NAMES.get(name, name): spec
                      for name, spec in last.files.items()}
    if business_day_cuts:
        for delivery in deliveries:
            if delivery.department in BUSINESS_DAY_DEPARTMENTS:
                delivery.extract_date = last_business_day(delivery.extract_date)
    return _write(landing, truth, gen, deliveries)


def _write(landing: Path, truth: Path, gen: _Generator, deliveries: list[Delivery]
           ) -> VariantSummary:
    rng = gen.rng
    values, quarantine, statuses, rows_by_file = [], [], [], {}
    for d in deliveries:
        folder = landing / d.department / d.extract_date.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        manifest = {"department": d.department, "extract_date": d.extract_date.isoformat(),
                    "files": {}}
        if rng.random() < 0.5:
            manifest["exported_at"] = f"{d.extract_date}T23:59:00+08:00"
        for file_name, (ent, rows, style) in d.files.items():
            path = folder / file_name
            if ent.fmt == "csv":
                data, numbers = _csv_bytes(ent, rows, style, rng)
                path.write_bytes(data)
            elif ent.fmt == "jsonl":
                data, numbers = _jsonl_bytes(ent, rows, style, rng)
                path.write_bytes(data)
            else:
                numbers = _parquet_write(path, ent, rows, style, rng)
            spec: dict = {"rows": len(rows) + d.manifest_row_offset.get(file_name, 0)}
            if style.manifest_encoding:
                spec["encoding"] = style.manifest_encoding
            manifest["files"][file_name] = spec
            source = f"{d.department}/{d.extract_date}/{file_name}"
            rows_by_file[source] = spec["rows"]
            for row, number in zip(rows, numbers):
                if row.broken:
                    quarantine.append((source, number, *row.broken))
                for column, kind, expected, flavour in row.expect:
                    values.append((source, number, column, kind, expected, flavour))
        if d.manifest:
            (folder / "_manifest.json").write_text(
                json.dumps(manifest, ensure_ascii=False, indent=rng.choice((None, 2))),
                encoding="utf-8")
        if not d.manifest:
            status, message = "pending", "no _manifest.json"
        elif d.manifest_row_offset:
            name, offset = next(iter(d.manifest_row_offset.items()))
            found = len(d.files[name][1])
            status, message = "rejected", f"{name}: manifest says {found + offset} rows, " \
                f"found {found}"
        else:
            status, message = "loaded", ""
        statuses.append({"department": d.department, "extract_date": d.extract_date.isoformat(),
                         "status": status, "message": message})
        if d.department == "finance" and status == "loaded":
            (folder / "说明.txt").write_text("财务系统导出", encoding="utf-8")  # not in manifest
    truth.mkdir(parents=True, exist_ok=True)
    seen: set[tuple[str, str, str]] = set()
    records = []
    for dept, ent_name, record_id, company, mess in gen.truth:
        if (dept, ent_name, record_id) not in seen:
            seen.add((dept, ent_name, record_id))
            records.append((dept, ent_name, record_id, company, mess))
    _table(("department", "entity", "record_id", "company_id", "mess"), records,
           truth / "source_records.parquet")
    _table(("company_id", "name", "former_name", "uscc", "group_id", "twin_id", "province",
            "city"),
           [(c.id, c.name(), c.former_name, c.uscc, c.group, c.twin, c.province, c.region)
            for c in gen.world], truth / "companies.parquet")
    if gen.credit:
        _table(("company_id", "period_date"), gen.credit.defaults(gen.months),
               truth / "defaults.parquet")
        pq.write_table(pa.table(list(map(list, zip(*gen.credit.latent_monthly(gen.months)))),
                                names=["company_id", "period_date", "health", "pd_12m"]),
                       truth / "latent_monthly.parquet")
        pq.write_table(pq.read_table(truth / "companies.parquet").append_column(
            "health", pa.array([gen.credit.paths[c.id].health[0] for c in gen.world])
        ).append_column("growth", pa.array([gen.credit.paths[c.id].growth for c in gen.world])),
            truth / "companies.parquet")
    _table(("source_file", "row_number", "field", "kind", "expected", "flavour"), values,
           truth / "expected_values.parquet")
    _table(("source_file", "row_number", "flavour", "reason"), quarantine,
           truth / "expected_quarantine.parquet")
    (truth / "deliveries.json").write_text(json.dumps(statuses, ensure_ascii=False, indent=1),
                                           encoding="utf-8")
    return VariantSummary(statuses, rows_by_file, len(quarantine), len(records))


def _table(names: tuple[str, ...], rows: list[tuple], path: Path) -> None:
    columns = list(zip(*rows)) if rows else [[] for _ in names]
    arrays = [pa.array(list(col), pa.int64() if name == "row_number" else pa.string())
              for name, col in zip(names, columns)]
    pq.write_table(pa.table(arrays, names=list(names)), path)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="write a variant landing zone and its truth")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--truth", type=Path, required=True)
    parser.add_argument("--companies", type=int, default=400)
    parser.add_argument("--months", type=int, default=3)
    parser.add_argument("--start", default="2025-10")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-bad-deliveries", action="store_true")
    parser.add_argument("--credit-world", action="store_true",
                        help="risk, registry and finance values follow latent credit health")
    parser.add_argument("--business-day-cuts", action="store_true",
                        help="crm, risk and service cut a weekend month end on the Friday before")
    parser.add_argument("--mess-scale", type=float, default=1.0,
                        help="multiply the rates of name and identifier mess")
    args = parser.parse_args(argv)
    summary = generate(args.out, args.truth, args.companies, args.months, args.start, args.seed,
                       not args.no_bad_deliveries, args.credit_world, args.business_day_cuts,
                       args.mess_scale)
    print(f"{len(summary.deliveries)} deliveries, {sum(summary.rows.values())} rows "
          f"({summary.broken} broken on purpose), {summary.records} identity records")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
