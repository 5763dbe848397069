"""Docker's output conventions: go-units sizes and durations, tabwriter columns, Go templates."""
import pytest

from minidocker.image import format as fmt
from minidocker.image.listing import TABLE, IMAGE_HEADERS, path_match
from minidocker.system.df import DF_HEADERS, DF_TABLE


@pytest.mark.parametrize("size, precision, text", [
    (0, 4, "0B"), (212, 4, "212B"), (1000, 4, "1kB"), (1024, 4, "1.024kB"), (13300, 3, "13.3kB"),
    (4270000, 4, "4.27MB"), (63160000, 4, "63.16MB"), (63160000, 3, "63.2MB"), (196500000, 3, "196MB"),
    (999999, 4, "1000kB"), (10**9, 3, "1GB"), (2.5 * 10**12, 4, "2.5TB"),
])
def test_human_size_is_go_units(size, precision, text):
    assert fmt.human_size(size, precision) == text


@pytest.mark.parametrize("seconds, text", [
    (0.5, "Less than a second"), (1, "1 second"), (47, "47 seconds"), (60, "About a minute"),
    (3 * 60, "3 minutes"), (59 * 60, "59 minutes"), (3600, "About an hour"), (47 * 3600, "47 hours"),
    (48 * 3600, "2 days"), (13 * 86400, "13 days"), (14 * 86400, "2 weeks"), (59 * 86400, "8 weeks"),
    (60 * 86400, "2 months"), (300 * 86400, "10 months"), (730 * 86400, "2 years"),
])
def test_human_duration_is_go_units(seconds, text):
    assert fmt.human_duration(seconds) == text


def test_image_ls_table_is_the_seeds():
    rows = [{"Repository": "ubuntu", "Tag": "18.04", "ID": "8d5df41c547b", "CreatedSince": "2 weeks ago", "Size": "63.1MB"},
            {"Repository": "hello-world", "Tag": "latest", "ID": "feb5d9fea6a5", "CreatedSince": "10 months ago",
             "Size": "13.3kB"}]
    assert fmt.format_table(TABLE, rows, IMAGE_HEADERS) == (
        "REPOSITORY    TAG       IMAGE ID       CREATED         SIZE\n"
        "ubuntu        18.04     8d5df41c547b   2 weeks ago     63.1MB\n"
        "hello-world   latest    feb5d9fea6a5   10 months ago   13.3kB\n")


def test_system_df_table_is_the_seeds():
    rows = [{"Type": "Images", "TotalCount": "2", "Active": "0", "Size": "63.16MB", "Reclaimable": "63.16MB (100%)"}]
    rows += [{"Type": t, "TotalCount": "0", "Active": "0", "Size": "0B", "Reclaimable": "0B"}
             for t in ("Containers", "Local Volumes", "Build Cache")]
    assert fmt.format_table(DF_TABLE, rows, DF_HEADERS) == (
        "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\n"
        "Images          2         0         63.16MB   63.16MB (100%)\n"
        "Containers      0         0         0B        0B\n"
        "Local Volumes   0         0         0B        0B\n"
        "Build Cache     0         0         0B        0B\n")


def test_templates():
    row = {"ID": "5f515359c7f8", "Repository": "redis", "Config": {"Cmd": ["sh", "-c", "x"], "Labels": {"a": "b"}}}
    assert fmt.format_table("{{.ID}}: {{.Repository}}", [row], {}) == "5f515359c7f8: redis\n"
    assert fmt.format_table("table {{.ID}}\\t{{.Repository}}", [row], {"ID": "IMAGE ID", "Repository": "REPOSITORY"}) == \
        "IMAGE ID       REPOSITORY\n5f515359c7f8   redis\n"
    assert fmt.render("{{.Config.Cmd}} {{json .Config.Labels}} {{upper .Repository}}", row) == '[sh -c x] {"a":"b"} REDIS'
    assert fmt.render('{{join .Config.Cmd ","}}', row) == "sh,-c,x"
    with pytest.raises(fmt.TemplateError):
        fmt.render("{{.Nope}}", row)
    with pytest.raises(fmt.TemplateError):
        fmt.render("{{frobnicate .ID}}", row)


def test_path_match_is_gos():
    assert path_match("redis", "redis") and path_match("re*", "redis") and path_match("*/*", "jwilder/nginx")
    assert not path_match("*", "jwilder/nginx") and not path_match("red", "redis") and path_match("r?dis:[a-z]*", "redis:alpine")
