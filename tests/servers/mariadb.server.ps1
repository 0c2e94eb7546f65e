<#
.SYNOPSIS
    Starts (or stops) the tests' MariaDB on 127.0.0.1, on a port of its own, with a fresh data
    folder holding a Neutron-like database.
.DESCRIPTION
    The port is $env:DF_TEST_MARIADB_PORT, else 3399. The server (Debian package mariadb-server;
    .ci/run installs it and mariadb-client) keeps its data, socket and log in the state folder,
    without binary log or fsync. It holds the database neutron: a few of Neutron's tables with
    rows, and alembic_version at Neutron's Pike heads, as Neutron's own tables look before
    neutron-db-manage upgrade heads. The user neutron (a random password) owns it over TCP.
    Sets DF_TEST_MARIADB (host:port), DF_TEST_MARIADB_SOCKET (root, no password; for the tests'
    set-up and checks) and DF_TEST_MARIADB_AUTH (neutron:password).
    Stop stops the mariadbd this script started, by the id it wrote down.
#>
param(
    [Parameter(Mandatory)][ValidateSet('Start', 'Stop')][string] $Action,
    [Parameter(Mandatory)][string] $StateDir
)
$ErrorActionPreference = 'Stop'
$dir = Join-Path $StateDir 'mariadb'
$pidFile = Join-Path $dir 'mariadbd.pid'

function Stop-Server {
    $id = (Get-Content $pidFile -ErrorAction SilentlyContinue | Select-Object -First 1) -as [int]
    if ($id) {
        $p = Get-Process -Id $id -ErrorAction SilentlyContinue
        if ($p) { $p.Kill(); $p.WaitForExit(10000) | Out-Null }
    }
    Remove-Item $pidFile -Force -ErrorAction SilentlyContinue
}

if ($Action -eq 'Stop') { Stop-Server; return }

function Find-Program([string] $Name, [string] $Package) {
    $found = Get-Command $Name -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1 -ExpandProperty Source
    if (-not $found) { throw "$Name is not installed (Debian package $Package; .ci/run installs it)." }
    $found
}
$server = Find-Program mariadbd mariadb-server
$install = Find-Program mariadb-install-db mariadb-server
$client = Find-Program mariadb mariadb-client
Find-Program mysqldump mariadb-client | Out-Null
$port = if ($env:DF_TEST_MARIADB_PORT) { [int]$env:DF_TEST_MARIADB_PORT } else { 3399 }

if (Test-Path $dir) { Stop-Server; Remove-Item $dir -Recurse -Force }
$data = Join-Path $dir 'data'
New-Item -ItemType Directory $data -Force | Out-Null
$socket = Join-Path $dir 'mariadbd.sock'
$log = Join-Path $dir 'mariadbd.log'
$user = [Environment]::UserName

# Small InnoDB files, written without fsync: the start takes seconds, not the tens a default set-up takes.
# Temporary files in a folder of its own: a MariaDB starting deletes every #sql* file in its tmpdir,
# which in a shared /tmp are another MariaDB's (another lane's, or its install's) tables in use.
$tmp = Join-Path $dir 'tmp'
New-Item -ItemType Directory $tmp -Force | Out-Null
$innodb = @('--innodb-log-file-size=4M', '--innodb-buffer-pool-size=16M', '--innodb-flush-log-at-trx-commit=0', '--innodb-doublewrite=0', '--skip-log-bin', "--tmpdir=$tmp")
& $install --no-defaults "--datadir=$data" "--user=$user" --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve @innodb > (Join-Path $dir 'install.log') 2>&1
if ($LASTEXITCODE -ne 0) { throw "mariadb-install-db failed (exit code $LASTEXITCODE); see $dir/install.log" }

# mariadbd writes its log to a file of its own: through a pipe to this shell it would lose it once the shell exits.
$arguments = @('--no-defaults', "--datadir=$data", "--socket=$socket", "--port=$port", '--bind-address=127.0.0.1',
    "--user=$user", "--log-error=$log", "--pid-file=$(Join-Path $dir 'mariadbd.pidfile')", '--skip-name-resolve',
    '--performance-schema=OFF') + $innodb
$proc = Start-Process $server -PassThru -ArgumentList $arguments -RedirectStandardOutput (Join-Path $dir 'stdout.log') -RedirectStandardError (Join-Path $dir 'stderr.log')
$proc.Id | Set-Content $pidFile

$deadline = [DateTime]::UtcNow.AddSeconds(120)
while (-not (Test-Path $socket)) {
    if ($proc.HasExited) { throw "mariadbd could not start on 127.0.0.1:${port} (is the port taken?); see $log" }
    if ([DateTime]::UtcNow -gt $deadline) { throw "mariadbd did not start on 127.0.0.1:${port}; see $log" }
    Start-Sleep -Milliseconds 100
}

$password = [guid]::NewGuid().ToString('N')
& $client --no-defaults "--socket=$socket" -u root -e @"
CREATE DATABASE neutron CHARACTER SET utf8mb4;
CREATE USER 'neutron'@'127.0.0.1' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON neutron.* TO 'neutron'@'127.0.0.1';
USE neutron;
$(Get-Content (Join-Path $PSScriptRoot '../fixtures/neutron/neutron-pike.sql') -Raw)
"@
if ($LASTEXITCODE -ne 0) { throw "Creating the neutron database failed (exit code $LASTEXITCODE); see $log" }

# Through TCP, as the tests connect: the server that answers there must be the one started here
# (another run's would hold another data folder), or the tests would change its database.
$env:MYSQL_PWD = $password
try { $answering = & $client --no-defaults -h 127.0.0.1 -P $port -u neutron --skip-column-names -e 'SELECT @@datadir' 2>$null }
finally { Remove-Item Env:MYSQL_PWD }
if ($LASTEXITCODE -ne 0 -or "$answering".TrimEnd('/') -ne $data) {
    throw "Another MariaDB answers on 127.0.0.1:${port}: set DF_TEST_MARIADB_PORT to a free port."
}

$env:DF_TEST_MARIADB = "127.0.0.1:$port"
$env:DF_TEST_MARIADB_SOCKET = $socket
$env:DF_TEST_MARIADB_AUTH = "neutron:$password"
