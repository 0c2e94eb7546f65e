<#
.SYNOPSIS
    Makes the TLS test servers' certificates with openssl in <StateDir>/tls, unless that folder
    holds them all, made in the last 12 hours (they are valid two days): a CA (ca.pem), a server
    certificate for 127.0.0.1 only (server.pem, server.key), one for each node of the TLS Redis
    Cluster naming that node's address only (node2.pem and node2.key for 127.0.0.2, node3 and node4
    likewise), a client certificate (client.pem, client.key), and a second CA that signed none of
    them (other-ca.pem). Sets DF_TEST_TLS to that folder.
#>
param([Parameter(Mandatory)][string] $StateDir)
$ErrorActionPreference = 'Stop'
$dir = Join-Path $StateDir 'tls'
$env:DF_TEST_TLS = $dir
# The server's names are 127.0.0.1 alone, so that 'localhost' is a name its certificate does not
# hold. It may also act as a client: etcd's gateway calls its own gRPC port with it, and a
# cluster node calls the other nodes with its own.
$leaves = @{
    server = @('subjectAltName=IP:127.0.0.1', 'extendedKeyUsage=serverAuth,clientAuth')
    client = @('extendedKeyUsage=clientAuth')
}
foreach ($n in 2..4) { $leaves["node$n"] = @("subjectAltName=IP:127.0.0.$n", 'extendedKeyUsage=serverAuth,clientAuth') }
$done = Join-Path $dir 'done'
if ((Test-Path $done) -and (Get-Item $done).LastWriteTimeUtc -gt [DateTime]::UtcNow.AddHours(-12) -and
    -not ($leaves.Keys | Where-Object { -not (Test-Path (Join-Path $dir "$_.pem")) })) { return }
if (-not (Get-Command openssl -CommandType Application -ErrorAction SilentlyContinue)) { throw 'openssl is not installed (Debian package openssl; .ci/run installs it).' }
if (Test-Path $dir) { Remove-Item $dir -Recurse -Force }
New-Item -ItemType Directory $dir | Out-Null

function Invoke-OpenSsl {
    $out = & openssl @args 2>&1
    if ($LASTEXITCODE -ne 0) { throw "openssl $($args[0]) failed: $out" }
}

$ec = @('-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes')
foreach ($ca in 'ca', 'other-ca') {
    Invoke-OpenSsl req -x509 @ec -days 2 -subj "/CN=df-upgrade test $ca" -keyout "$dir/$ca.key" -out "$dir/$ca.pem" `
        -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign'
}
foreach ($name in $leaves.Keys) {
    Invoke-OpenSsl req -new @ec -subj "/CN=df-upgrade test $name" -keyout "$dir/$name.key" -out "$dir/$name.csr"
    $ext = Join-Path $dir "$name.ext"
    (@('basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature') + $leaves[$name]) | Set-Content $ext
    Invoke-OpenSsl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial -days 2 -extfile $ext -out "$dir/$name.pem"
}
New-Item -ItemType File (Join-Path $dir 'done') | Out-Null
