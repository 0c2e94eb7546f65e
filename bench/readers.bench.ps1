<#
.SYNOPSIS
    The engine's own readers against the general ones, on the same data in one process: NbJson
    against System.Text.Json (Utf8JsonReader, JsonDocument) on 100,000 NB values from the Pike
    sample, and the store's RESP connection against StackExchange.Redis reading 100,000 keys in
    pipelined MGET batches from the test Redis. Prints median seconds and MB allocated per run.
#>
param([int] $Count = 100000, [int] $Db = 38)
$ErrorActionPreference = 'Stop'
$root = Split-Path $PSScriptRoot
dotnet build (Join-Path $PSScriptRoot 'DragonflowUpgrade.Bench') -c Release --nologo -v quiet -clp:ErrorsOnly | Out-Host
if ($LASTEXITCODE) { throw 'building the benchmark failed' }
$bench = Join-Path $PSScriptRoot 'DragonflowUpgrade.Bench/bin/Release/net10.0/DragonflowUpgrade.Bench.dll'
dotnet $bench json (Join-Path $root 'tests/fixtures/pike-nb.jsonl') $Count
if ($LASTEXITCODE) { throw 'the JSON benchmark failed' }
dotnet $bench resp $env:DF_TEST_REDIS $Db $Count
if ($LASTEXITCODE) { throw 'the RESP benchmark failed' }
