<#
.SYNOPSIS
    Builds, tests, demonstrates, benchmarks and packages DragonflowUpgrade.
.PARAMETER Task
    Build (default): compile and lay out the module in ./bin, importable with ./DragonflowUpgrade.psd1.
    Test: build, start the test servers on loopback, run xunit and Pester, stop the servers.
          A full run (no -XunitFilter or -PesterPath) runs xunit, the Pester files that upgrade
          whole test clouds, and the other Pester files at once in three processes, each with
          test servers of its own (the second and third on ports 100 and 200 above the
          first's). Prints the seconds each part took (build, servers, each xunit project, each
          Pester part and the slowest files), then "N passed, N failed" last (preceded by the
          behaviour tests and the help checks counted apart), and exits non-zero on any failure.
    Demo: build, then upgrade a sample NB database in the embedded file store (no server needed).
    Bench: build, start the test servers, run the benchmarks.
    Package: build, then copy the module to ./out/DragonflowUpgrade.
.PARAMETER XunitFilter
    Test only: run just the xunit tests this filter selects (dotnet test --filter syntax).
.PARAMETER PesterPath
    Test only: run just these Pester files. When either this or -XunitFilter is given, only the named tests run.
.PARAMETER BenchName
    Bench only: run just these benchmarks (bench/<name>.bench.ps1: upgrade, controlplane, readers); all by default.
.PARAMETER BenchSize
    Bench only: the sizes (objects) of the upgrade benchmark's Redis database; 100,000 and 1,000,000 by default.
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Demo', 'Bench', 'Package')]
    [string] $Task = 'Build',
    [string] $Configuration = 'Release',
    [string] $XunitFilter,
    [string[]] $PesterPath,
    [string[]] $BenchName,
    [int[]] $BenchSize = @(100000, 1000000),
    # Internal: the folder of one part of a full test run (see Start-TestPart), run in a process of its own.
    [Parameter(DontShow)] [string] $Part
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$Root = $PSScriptRoot
$env:DOTNET_CLI_TELEMETRY_OPTOUT = '1'
$env:DOTNET_NOLOGO = '1'
# The Pester files that upgrade whole test clouds, about half of Pester's time: a full test run
# gives them a process of their own.
$WholeCloudFiles = 'Upgrade.Tests.ps1', 'Hostile.UpgradeNight.Tests.ps1'

function Invoke-Native([string] $What, [scriptblock] $Command) {
    & $Command
    if ($LASTEXITCODE -ne 0) { throw "$What failed (exit code $LASTEXITCODE)." }
}

function Invoke-Build {
    Invoke-Native 'dotnet build' { dotnet build (Join-Path $Root 'DragonflowUpgrade.sln') -c $Configuration --nologo -v quiet -clp:ErrorsOnly }
    Invoke-Native 'restoring Pester' { dotnet restore (Join-Path $Root 'tools/tools.proj') --nologo -v quiet }
    # The module's binaries: the cmdlets and their dependencies, not PowerShell itself, one
    # folder per target; the manifest picks the one for the PowerShell edition that imports it.
    $out = Join-Path $Root 'bin'
    if (Test-Path $out) { Remove-Item $out -Recurse -Force }
    foreach ($framework in 'net8.0', 'netstandard2.0') {
        New-Item -ItemType Directory (Join-Path $out $framework) | Out-Null
        Copy-Item (Join-Path $Root "src/DragonflowUpgrade.PowerShell/bin/$Configuration/$framework/*") (Join-Path $out $framework) -Recurse
    }
    # Help (the cmdlets' MAML and the about topic): PowerShell looks in <ModuleBase>/en-US, the manifest's folder, not beside the dll.
    New-Item -ItemType Directory (Join-Path $Root 'en-US') -Force | Out-Null
    Copy-Item (Join-Path $Root 'module/en-US/*') (Join-Path $Root 'en-US') -Force
}

function Get-PesterModule {
    $packages = if ($env:NUGET_PACKAGES) { $env:NUGET_PACKAGES } else { Join-Path ([Environment]::GetFolderPath('UserProfile')) '.nuget/packages' }
    $psd1 = Get-ChildItem (Join-Path $packages 'pester') -Directory | Sort-Object { [version]$_.Name } -Descending |
        ForEach-Object { Join-Path $_.FullName 'tools/Pester.psd1' } | Where-Object { Test-Path $_ } | Select-Object -First 1
    if (-not $psd1) { throw 'Pester is not restored: run dotnet restore tools/tools.proj.' }
    $psd1
}

# Each tests/servers/*.server.ps1 starts one kind of test server on loopback and sets the
# environment variables the tests read; called again with -Action Stop it stops them.
function Start-TestServers([string] $StateDir) {
    New-Item -ItemType Directory $StateDir -Force | Out-Null
    foreach ($script in Get-ChildItem (Join-Path $Root 'tests/servers') -Filter '*.server.ps1' | Sort-Object Name) {
        Write-Host "Starting $($script.BaseName -replace '\.server$') test servers"
        & $script.FullName -Action Start -StateDir $StateDir
    }
}

function Stop-TestServers([string] $StateDir) {
    foreach ($script in Get-ChildItem (Join-Path $Root 'tests/servers') -Filter '*.server.ps1' | Sort-Object Name -Descending) {
        try { & $script.FullName -Action Stop -StateDir $StateDir } catch { Write-Warning "Stopping $($script.Name): $_" }
    }
}

function Invoke-XunitTests([string] $ResultsDir, [string[]] $Projects) {
    $passed = 0; $failed = 0; $names = @()
    foreach ($project in Get-ChildItem (Join-Path $Root 'tests') -Filter '*.Tests.csproj' -Recurse | Where-Object { -not $Projects -or $_.BaseName -in $Projects }) {
        $trx = "$($project.BaseName).trx"
        $filter = if ($XunitFilter) { @('--filter', $XunitFilter) } else { @() }
        $clock = [Diagnostics.Stopwatch]::StartNew()
        dotnet test $project.FullName -c $Configuration --no-build --nologo @filter --logger "trx;LogFileName=$trx" --logger 'console;verbosity=normal' --results-directory $ResultsDir |
            Where-Object { $_ -match '^\s*(Failed|Passed|Skipped) |Error Message|Stack Trace|^\s+at |Total tests|error' } | Out-Host
        $file = Join-Path $ResultsDir $trx
        if (-not (Test-Path $file) -and $XunitFilter) { continue }   # the filter selected nothing here
        if (-not (Test-Path $file)) { Write-Host "$($project.BaseName): no results (the run failed to start)"; $failed++; continue }
        $run = ([xml](Get-Content $file -Raw)).TestRun
        $counters = $run.ResultSummary.Counters
        $names += @($run.SelectNodes("//*[local-name()='UnitTestResult'][@outcome!='Passed' and @outcome!='NotExecuted']") | ForEach-Object testName)
        $passed += [int]$counters.passed
        $failed += [int]$counters.failed + [int]$counters.error + [int]$counters.timeout + [int]$counters.aborted
        Write-Host "$($project.BaseName): $($counters.passed) passed, $($counters.failed) failed"
        $script:Timings["xunit $($project.BaseName -replace '^DragonflowUpgrade\.')"] = $clock.Elapsed.TotalSeconds
    }
    @{ Passed = $passed; Failed = $failed; FailedNames = $names }
}

function Invoke-PesterTests([string[]] $Paths) {
    Import-Module (Get-PesterModule) -Force
    $config = New-PesterConfiguration
    $config.Run.Path = $Paths
    $config.Run.PassThru = $true
    $config.Output.Verbosity = 'Detailed'
    $result = Invoke-Pester -Configuration $config
    $script:Timings['Pester'] = $result.Duration.TotalSeconds
    # Help.Tests.ps1 checks that the help agrees with the cmdlets: counted apart from the behaviour tests.
    $help = @($result.Tests | Where-Object { $_.ScriptBlock.File -like '*Help.Tests.ps1' })
    @{
        Passed = $result.PassedCount; Failed = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
        HelpPassed = @($help | Where-Object Result -eq 'Passed').Count; HelpFailed = @($help | Where-Object Result -eq 'Failed').Count
        FailedNames = @($result.Failed | ForEach-Object { "$($_.ExpandedPath) ($([IO.Path]::GetFileName($_.ScriptBlock.File)))" }) +
            @($result.FailedBlocks + $result.FailedContainers | ForEach-Object { "$($_.Name): $($_.ErrorRecord | Select-Object -First 1)" })
        # Where a shorter run would start: each file's seconds.
        Files = @($result.Containers | ForEach-Object { @{ Name = [IO.Path]::GetFileName($_.Item); Seconds = $_.Duration.TotalSeconds } })
    }
}

# The test servers' port variables (tests/servers/*.server.ps1) and their defaults.
function Get-TestPorts {
    $etcd = if ($env:DF_TEST_ETCD_PORT) { [int]$env:DF_TEST_ETCD_PORT } else { 23790 }
    $defaults = [ordered]@{
        DF_TEST_REDIS_PORT = 6390; DF_TEST_REDIS_CLUSTER_PORT = 7380; DF_TEST_ETCD_PORT = $etcd
        DF_TEST_ETCD_CLUSTER_PORT = $etcd + 13; DF_TEST_MARIADB_PORT = 3399; DF_TEST_SSH_PORT = 2222
    }
    $ports = [ordered]@{}
    foreach ($variable in $defaults.Keys) {
        $value = [Environment]::GetEnvironmentVariable($variable)
        $ports[$variable] = if (-not $value) { $defaults[$variable] } elseif ($value -as [int]) { [int]$value } else { throw "$variable is '$value', not a port number." }
    }
    $ports
}

# Starts Pester on $Files in a process of its own (the same PowerShell as this one), with test
# servers of its own on the ports above plus $PortOffset. Its output goes to a log and its result
# to a file, in a folder of this run's ($RunDir), for Receive-TestPart.
function Start-TestPart([string] $RunDir, [string] $Name, [string[]] $Files, [int] $PortOffset) {
    if (-not $Files) { throw "Pester part $Name was given no test files." }
    $dir = Join-Path $RunDir $Name
    New-Item -ItemType Directory $dir | Out-Null
    $Files | Set-Content (Join-Path $dir 'files.txt')
    $environment = @{}
    $ports = Get-TestPorts
    foreach ($variable in $ports.Keys) { $environment[$variable] = "$($ports[$variable] + $PortOffset)" }
    $exe = (Get-Process -Id $PID).Path
    $arguments = @('-NoProfile', '-NonInteractive', '-File', $PSCommandPath, '-Task', 'Test', '-Configuration', $Configuration, '-Part', $dir)
    if ((Split-Path $exe -Leaf) -like 'dotnet*') { $arguments = @(Join-Path $PSHOME 'pwsh.dll') + $arguments }
    # Start-Process joins the arguments with spaces: a path with one is quoted.
    $arguments = @($arguments | ForEach-Object { if ($_ -match '\s') { "`"$_`"" } else { $_ } })
    $process = Start-Process $exe -ArgumentList $arguments -WorkingDirectory $Root -Environment $environment -NoNewWindow -PassThru `
        -RedirectStandardOutput (Join-Path $dir 'output.log') -RedirectStandardError (Join-Path $dir 'errors.log')
    @{ Name = $Name; Dir = $dir; Process = $process }
}

# Waits for a part Start-TestPart started, prints its output and returns its result; a part
# that left no result is a failure.
function Receive-TestPart($Started) {
    while (-not $Started.Process.WaitForExit(500)) { }   # in steps, so that Ctrl+C stops the wait
    Write-Host "== Pester, part $($Started.Name) (a process of its own, with servers of its own)"
    foreach ($log in 'output.log', 'errors.log') {
        $file = Join-Path $Started.Dir $log
        if (Test-Path $file) { Get-Content $file | Out-Host }
    }
    $file = Join-Path $Started.Dir 'result.xml'
    if (Test-Path $file) { return Import-Clixml $file }
    $failed = "Pester part $($Started.Name) left no result (exit code $($Started.Process.ExitCode)); its output is above"
    @{ Result = @{ Passed = 0; Failed = 1; HelpPassed = 0; HelpFailed = 0; FailedNames = @($failed); Files = @() }; Timings = @() }
}

# Ends a part that is still running (the run stopped early) and stops its servers, which are
# not its child processes: a part that ended cleanly stopped them, one that died did not.
function Stop-TestPart($Started) {
    if (-not $Started.Process.HasExited) {
        $Started.Process.Kill($true)
        $Started.Process.WaitForExit()
    }
    Stop-TestServers (Join-Path $Started.Dir 'servers')
}

# Starts the test servers in $StateDir, runs the xunit projects and the Pester files given (all
# of them when $Xunit or $Pester is $true), stops the servers. Returns the counts; $script:Timings
# gets where the time went.
function Invoke-TestPart([string] $StateDir, $Xunit, $Pester) {
    $result = @{ Passed = 0; Failed = 0; HelpPassed = 0; HelpFailed = 0; FailedNames = @(); Files = @() }
    $clock = [Diagnostics.Stopwatch]::StartNew()
    try {
        Start-TestServers $StateDir
        $script:Timings['test servers started'] = $clock.Elapsed.TotalSeconds
        if ($Xunit) {
            $x = Invoke-XunitTests (Join-Path $Root 'out/test-results') $(if ($Xunit -is [array]) { $Xunit })
            $result.Passed += $x.Passed; $result.Failed += $x.Failed; $result.FailedNames += @($x.FailedNames)
        }
        if ($Pester) {
            $p = Invoke-PesterTests $(if ($Pester -is [array]) { $Pester } else { Join-Path $Root 'tests/pester' })
            foreach ($k in 'Passed', 'Failed', 'HelpPassed', 'HelpFailed') { $result[$k] += $p[$k] }
            $result.FailedNames += @($p.FailedNames); $result.Files = $p.Files
        }
    }
    catch {
        Write-Host "The test run stopped: $_"
        Write-Host $_.ScriptStackTrace
        $result.Failed++
        $result.FailedNames += "the run itself: $_"
    }
    finally {
        Stop-TestServers $StateDir
    }
    $result
}

function Write-TestSummary($Result, [Collections.IDictionary] $Timings) {
    Write-Host 'Time (seconds):'
    foreach ($t in $Timings.GetEnumerator()) { Write-Host ('  {0,-48} {1,7:N1}' -f $t.Key, $t.Value) }
    # What failed is named again here, so that the end of a long log says it.
    foreach ($name in $Result.FailedNames | Where-Object { $_ }) { Write-Host "FAILED: $name" }
    # The last line counts everything; the one before it tells behaviour tests from help checks.
    Write-Host "Behaviour tests: $($Result.Passed - $Result.HelpPassed) passed, $($Result.Failed - $Result.HelpFailed) failed; help checks: $($Result.HelpPassed) passed, $($Result.HelpFailed) failed"
    Write-Host "$($Result.Passed) passed, $($Result.Failed) failed"
}

switch ($Task) {
    'Build' { Invoke-Build }
    'Package' {
        Invoke-Build
        $dest = Join-Path $Root 'out/DragonflowUpgrade'
        if (Test-Path $dest) { Remove-Item $dest -Recurse -Force }
        New-Item -ItemType Directory $dest | Out-Null
        Copy-Item (Join-Path $Root 'DragonflowUpgrade.psd1'), (Join-Path $Root 'bin'), (Join-Path $Root 'en-US'), (Join-Path $Root 'module') $dest -Recurse
        Write-Host "Module laid out in $dest"
    }
    'Demo' {
        Invoke-Build
        & (Join-Path $Root 'module/examples/Demo.ps1') -Sample (Join-Path $Root 'tests/fixtures/pike-nb.jsonl') -WorkDir (Join-Path $Root 'out/demo')
    }
    'Test' {
        # Where the run's time goes, printed before the counts.
        $script:Timings = [ordered]@{}
        $total = [Diagnostics.Stopwatch]::StartNew()
        $result = @{ Passed = 0; Failed = 1; HelpPassed = 0; HelpFailed = 0; FailedNames = @(); Files = @() }
        if ($Part) {
            # One part of a full run, which built the module and reads this part's result.
            $result = Invoke-TestPart (Join-Path $Part 'servers') $false @(Get-Content (Join-Path $Part 'files.txt'))
            # Timings as a list: a dictionary's order does not survive the file.
            $timings = @($script:Timings.GetEnumerator() | ForEach-Object { @{ Name = $_.Key; Seconds = $_.Value } })
            @{ Result = $result; Timings = $timings } | Export-Clixml (Join-Path $Part 'result.xml')
            return
        }
        try {
            Invoke-Build
            $script:Timings['build'] = $total.Elapsed.TotalSeconds
            if ($XunitFilter -or $PesterPath) {
                # Only the named tests, in this process.
                $result = Invoke-TestPart (Join-Path $Root 'out/test-servers') ([bool]$XunitFilter) $PesterPath
            }
            else {
                # Three processes at once, each with test servers of its own: this one runs xunit,
                # one the Pester files that upgrade whole test clouds, one the other Pester files.
                # Run in one process, the tests left the two cores idle about 40 % of the time
                # (they wait on servers, SSH nodes and timeouts); at once, they keep both busy.
                $files = Get-ChildItem (Join-Path $Root 'tests/pester') -Filter '*.Tests.ps1' -Recurse | Sort-Object Name
                # A folder of this run's own: a part left running by a killed run cannot write its result here.
                Remove-Item (Join-Path $Root 'out/test-parts') -Recurse -Force -ErrorAction SilentlyContinue
                $runDir = Join-Path $Root "out/test-parts/$([DateTime]::UtcNow.ToString('yyyyMMdd-HHmmss'))-$PID"
                $parts = @()
                try {
                    $parts += Start-TestPart $runDir 'A' @($files | Where-Object Name -in $WholeCloudFiles).FullName 100
                    $parts += Start-TestPart $runDir 'B' @($files | Where-Object Name -notin $WholeCloudFiles).FullName 200
                    $result = Invoke-TestPart (Join-Path $Root 'out/test-servers') $true $false
                    foreach ($started in $parts) {
                        $received = Receive-TestPart $started
                        foreach ($k in 'Passed', 'Failed', 'HelpPassed', 'HelpFailed') { $result[$k] += $received.Result[$k] }
                        $result.FailedNames += @($received.Result.FailedNames)
                        $result.Files += @($received.Result.Files)
                        foreach ($t in $received.Timings) { $script:Timings["Pester part $($started.Name): $($t.Name)"] = $t.Seconds }
                    }
                }
                finally {
                    foreach ($started in $parts) { Stop-TestPart $started }
                }
            }
        }
        catch {
            Write-Host "The test run stopped: $_"
            Write-Host $_.ScriptStackTrace
            $result.Failed++
        }
        # The slowest Pester files, where a shorter run would start.
        foreach ($f in @($result.Files) | Sort-Object { $_.Seconds } -Descending | Select-Object -First 6) {
            $script:Timings["  $($f.Name)"] = $f.Seconds
        }
        $script:Timings['whole run'] = $total.Elapsed.TotalSeconds
        Write-TestSummary $result $script:Timings
        exit ([int]($result.Failed -gt 0))
    }
    'Bench' {
        $state = Join-Path $Root 'out/test-servers'
        $benches = Get-ChildItem (Join-Path $Root 'bench') -Filter '*.bench.ps1' | Sort-Object Name |
            Where-Object { -not $BenchName -or ($_.BaseName -replace '\.bench$') -in $BenchName }
        # The sshd server script starts the control-plane benchmark's 50 nodes.
        if ($benches.BaseName -contains 'controlplane.bench') { $env:DF_BENCH = '1' }
        try {
            Invoke-Build
            Start-TestServers $state
            foreach ($bench in $benches) {
                $name = $bench.BaseName -replace '\.bench$'
                Write-Host "== $name"
                if ($name -eq 'upgrade') { & $bench.FullName -Size $BenchSize } else { & $bench.FullName }
            }
        }
        finally { Stop-TestServers $state }
    }
}
