# Shared by the tests of Neutron's database cmdlets: an inventory of the test nodes whose
# NeutronDatabase commands reach the test MariaDB (tests/servers/mariadb.server.ps1) as user
# neutron, the password through {password}; and the database put back as the fixture has it.
# Dot-source this file.

function Get-TestNeutronCredential {
    $user, $password = $env:DF_TEST_MARIADB_AUTH -split ':', 2
    [pscredential]::new($user, (ConvertTo-SecureString $password -AsPlainText -Force))
}

function Get-TestNeutronPassword { ($env:DF_TEST_MARIADB_AUTH -split ':', 2)[1] }

# A JSON inventory of the first test nodes (node01 the controller) in $Dir; -NeutronDatabase
# replaces or adds fields of its NeutronDatabase table. The migration fails while $Dir/fail-migration exists.
function New-TestNeutronInventory([string] $Dir, [hashtable] $NeutronDatabase = @{}, [hashtable[]] $ExtraNode = @()) {
    if (-not $env:DF_TEST_MARIADB) { throw 'DF_TEST_MARIADB is not set: start the test servers (build.ps1 Test does).' }
    New-Item -ItemType Directory $Dir -Force | Out-Null
    $path = Join-Path $Dir 'inventory.json'
    & (Join-Path $PSScriptRoot '../fixtures/remote/New-TestInventory.ps1') -Path $path -RedisDb 0 -ServiceDir (Join-Path $Dir 'services') -NodeCount 2 -ExtraNode $ExtraNode
    $inventory = Get-Content $path -Raw | ConvertFrom-Json -AsHashtable
    $commands = Get-TestNeutronCommands (Join-Path $Dir 'fail-migration')
    foreach ($k in $NeutronDatabase.Keys) { $commands[$k] = $NeutronDatabase[$k] }
    $inventory['NeutronDatabase'] = $commands
    $inventory | ConvertTo-Json -Depth 6 | Set-Content $path -Encoding utf8NoBOM
    $path
}

# The path of the stand-in for neutron-db-manage, as the nodes run it and Wait-LeftCommand looks for it.
function Get-TestNeutronMigrate { [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../fixtures/remote/neutron-db-manage')) }

# The NeutronDatabase table of a test inventory: node01 reaches the test MariaDB as user neutron,
# the password through {password}; the migration fails while the file $FailFile exists.
function Get-TestNeutronCommands([string] $FailFile) {
    $mariadbHost, $port = $env:DF_TEST_MARIADB -split ':'
    $connect = "--no-defaults -h $mariadbHost -P $port -u neutron"
    [ordered]@{
        Node    = 'node01'
        Backup  = "MYSQL_PWD={password} mysqldump $connect --single-transaction --add-drop-database --databases neutron"
        Restore = "MYSQL_PWD={password} mariadb $connect neutron"
        Check   = "MYSQL_PWD={password} mariadb $connect -e 'SELECT 1' neutron"
        Size    = "MYSQL_PWD={password} mariadb $connect -N -e `"SELECT COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables WHERE table_schema = 'neutron'`""
        Migrate = "MYSQL_PWD={password} DF_TEST_MARIADB=$($env:DF_TEST_MARIADB) DF_TEST_NEUTRON_FAIL='$FailFile' bash '$(Get-TestNeutronMigrate)' upgrade heads"
    }
}

# Runs SQL (or a mariadb client option list) as root through the server's socket.
function Invoke-TestNeutronSql([string] $Sql) {
    $out = mariadb --no-defaults "--socket=$($env:DF_TEST_MARIADB_SOCKET)" -u root --skip-column-names --batch -e $Sql
    if ($LASTEXITCODE -ne 0) { throw "mariadb failed (exit code $LASTEXITCODE): $Sql" }
    $out
}

# The neutron database put back as tests/fixtures/neutron/neutron-pike.sql has it.
function Reset-TestNeutronDatabase {
    $fixture = Get-Content (Join-Path $PSScriptRoot '../fixtures/neutron/neutron-pike.sql') -Raw
    Invoke-TestNeutronSql "DROP DATABASE IF EXISTS neutron; CREATE DATABASE neutron CHARACTER SET utf8mb4; USE neutron; $fixture" | Out-Null
}

# The whole neutron database as text (schema and rows), to compare before and after.
function Get-TestNeutronDump {
    $dump = mysqldump --no-defaults "--socket=$($env:DF_TEST_MARIADB_SOCKET)" -u root --skip-dump-date --single-transaction --databases neutron
    if ($LASTEXITCODE -ne 0) { throw "mysqldump failed (exit code $LASTEXITCODE)" }
    $dump -join "`n"
}

# What -WhatIf tells the host, which no stream carries: through a transcript.
function Get-WhatIf([scriptblock] $Command) {
    $file = Join-Path ([IO.Path]::GetTempPath()) "transcript-$([guid]::NewGuid()).txt"
    Start-Transcript $file | Out-Null
    try { & $Command | Out-Null } finally { Stop-Transcript | Out-Null }
    try { (Get-Content $file -Raw) -replace "`r", '' } finally { Remove-Item $file }
}
