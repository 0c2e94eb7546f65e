# Reads NB databases in the embedded file format without the module, to compare what a run
# wrote with an expectation written independently of it (tests/fixtures). Dot-source in BeforeAll.

# A value as canonical JSON: members sorted by name at every depth, numbers by value (1450.0 = 1450).
function ConvertTo-CanonicalJson($Value) {
    function Sort-Members($v) {
        if ($v -is [System.Collections.IDictionary]) {
            $sorted = [ordered]@{}
            foreach ($k in $v.Keys | Sort-Object -CaseSensitive { $_ }) { $sorted[$k] = Sort-Members $v[$k] }
            return $sorted
        }
        if ($v -is [System.Collections.IList]) { return , @($v | ForEach-Object { Sort-Members $_ }) }
        if ($v -is [long] -or $v -is [int] -or $v -is [decimal] -or $v -is [bigint]) { return [double]$v }
        $v
    }
    ConvertTo-Json (Sort-Members $Value) -Compress -Depth 64
}

# The objects of an embedded database file (.jsonl or .jsonl.gz), header line left out:
# "table/topic/id" => canonical JSON of the value. -Exclude leaves out the tables it matches (wildcards).
function Read-NbFile([string] $Path, [string[]] $Exclude = @()) {
    $text = if ($Path -like '*.gz') {
        $stream = [IO.Compression.GZipStream]::new([IO.File]::OpenRead($Path), [IO.Compression.CompressionMode]::Decompress)
        try { [IO.StreamReader]::new($stream).ReadToEnd() } finally { $stream.Dispose() }
    }
    else { [IO.File]::ReadAllText($Path) }
    $objects = [Collections.Generic.SortedDictionary[string, string]]::new([StringComparer]::Ordinal)
    foreach ($line in $text -split "`n" | Where-Object { $_.Trim() }) {
        $row = $line | ConvertFrom-Json -AsHashtable
        if ($row.Contains('header') -or @($Exclude | Where-Object { $row['table'] -like $_ })) { continue }
        $objects["$($row['table'])/$($row['topic'])/$($row['id'])"] = ConvertTo-CanonicalJson $row['value']
    }
    $objects
}

# The module's own tables: the migration log, and its lock and journal bookkeeping.
$script:ModuleTables = 'schema_migration_log', 'df_upgrade_*'

# The differences between two Read-NbFile results, a line each; nothing when they hold the same objects.
function Compare-NbObjects($Actual, $Expected) {
    foreach ($key in $Expected.Keys) {
        if (-not $Actual.ContainsKey($key)) { "missing: $key" }
        elseif ($Actual[$key] -cne $Expected[$key]) { "different: $key`n  expected $($Expected[$key])`n  actual   $($Actual[$key])" }
    }
    foreach ($key in $Actual.Keys) { if (-not $Expected.ContainsKey($key)) { "unexpected: $key" } }
}
