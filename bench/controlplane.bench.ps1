<#
.SYNOPSIS
    Stops and starts the control plane of the benchmark's 50 test nodes (tests/servers/sshd.server.ps1
    starts them for build.ps1 Bench), once with -ThrottleLimit 16 and once node by node, and
    prints both times and their ratio.
#>
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot '../DragonflowUpgrade.psd1') -Force
if (-not $env:DF_TEST_SSH_DIR) { throw 'DF_TEST_SSH_DIR is not set: run this through build.ps1 Bench, which starts the test nodes.' }

$nodes = Get-DfNode (Join-Path $env:DF_TEST_SSH_DIR 'inventory.psd1')
if ($nodes.Count -lt 50) { Write-Warning "Only $($nodes.Count) test nodes run (50 when DF_BENCH is set or under build.ps1 Bench)." }
$ssh = @{ KnownHostsPath = Join-Path $env:DF_TEST_SSH_DIR 'known_hosts'; ErrorAction = 'Stop' }

function Measure-ControlPlane([int] $Throttle) {
    $start = [Diagnostics.Stopwatch]::StartNew()
    $nodes | Start-DfControlPlane @ssh -ThrottleLimit $Throttle | Out-Null
    $start.Stop()
    $stop = [Diagnostics.Stopwatch]::StartNew()
    $nodes | Stop-DfControlPlane @ssh -ThrottleLimit $Throttle -Confirm:$false | Out-Null
    $stop.Stop()
    [pscustomobject]@{ Start = $start.Elapsed.TotalSeconds; Stop = $stop.Elapsed.TotalSeconds; Total = $start.Elapsed.TotalSeconds + $stop.Elapsed.TotalSeconds }
}

$services = ($nodes.Services).Count
try {
    $parallel = Measure-ControlPlane 16
    $sequential = Measure-ControlPlane 1
}
finally {
    $nodes | Stop-DfControlPlane @ssh -ThrottleLimit 16 -Confirm:$false -ErrorAction SilentlyContinue | Out-Null
}
Write-Host ("{0} nodes, {1} services: start then stop" -f $nodes.Count, $services)
Write-Host ("  -ThrottleLimit 16: {0,6:0.00} s  (start {1:0.00} s, stop {2:0.00} s)" -f $parallel.Total, $parallel.Start, $parallel.Stop)
Write-Host ("  sequential:        {0,6:0.00} s  (start {1:0.00} s, stop {2:0.00} s)" -f $sequential.Total, $sequential.Start, $sequential.Stop)
Write-Host ("  sequential / parallel: {0:0.0}x" -f ($sequential.Total / $parallel.Total))
