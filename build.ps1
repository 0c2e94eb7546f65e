<#
.SYNOPSIS
    Builds, tests, demonstrates, benchmarks and packages DragonflowUpgrade.
.PARAMETER Task
    Build (default): compile and lay out the module in ./bin, importable with ./DragonflowUpgrade.psd1.
    Test: build, start the test servers on loopback, run xunit and Pester, stop the servers;
          prints the seconds each part took (build, servers, each xunit project, Pester and its
          slowest files), then "N passed, N failed" last (preceded by the behaviour tests and the
          help checks counted apart), and exits non-zero on any failure.
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
    [int[]] $BenchSize = @(100000, 1000000)
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$Root = $PSScriptRoot
$env:DOTNET_CLI_TELEMETRY_OPTOUT = '1'
$env:DOTNET_NOLOGO = '1'

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

function Invoke-XunitTests([string] $ResultsDir) {
    $passed = 0; $failed = 0; $names = @()
    foreach ($project in Get-ChildItem (Join-Path $Root 'tests') -Filter '*.Tests.csproj' -Recurse) {
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

function Invoke-PesterTests {
    Import-Module (Get-PesterModule) -Force
    $config = New-PesterConfiguration
    $config.Run.Path = if ($PesterPath) { $PesterPath } else { Join-Path $Root 'tests/pester' }
    $config.Run.PassThru = $true
    $config.Output.Verbosity = 'Detailed'
    $result = Invoke-Pester -Configuration $config
    $script:Timings['Pester'] = $result.Duration.TotalSeconds
    # The slowest files, where a shorter run would start.
    foreach ($c in $result.Containers | Sort-Object Duration -Descending | Select-Object -First 6) {
        $script:Timings["  $([IO.Path]::GetFileName($c.Item))"] = $c.Duration.TotalSeconds
    }
    # Help.Tests.ps1 checks that the help agrees with the cmdlets: counted apart from the behaviour tests.
    $help = @($result.Tests | Where-Object { $_.ScriptBlock.File -like '*Help.Tests.ps1' })
    @{
        Passed = $result.PassedCount; Failed = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
        HelpPassed = @($help | Where-Object Result -eq 'Passed').Count; HelpFailed = @($help | Where-Object Result -eq 'Failed').Count
        FailedNames = @($result.Failed | ForEach-Object { "$($_.ExpandedPath) ($([IO.Path]::GetFileName($_.ScriptBlock.File)))" }) +
            @($result.FailedBlocks + $result.FailedContainers | ForEach-Object { "$($_.Name): $($_.ErrorRecord | Select-Object -First 1)" })
    }
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
        $passed = 0; $failed = 0; $helpPassed = 0; $helpFailed = 0; $failedNames = @()
        $state = Join-Path $Root 'out/test-servers'
        # Where the run's time goes, printed before the counts.
        $script:Timings = [ordered]@{}
        $total = [Diagnostics.Stopwatch]::StartNew()
        try {
            Invoke-Build
            $script:Timings['build'] = $total.Elapsed.TotalSeconds
            Start-TestServers $state
            $script:Timings['test servers started'] = $total.Elapsed.TotalSeconds - $script:Timings['build']
            $only = $XunitFilter -or $PesterPath
            $x = if (-not $only -or $XunitFilter) { Invoke-XunitTests (Join-Path $Root 'out/test-results') } else { @{ Passed = 0; Failed = 0; FailedNames = @() } }
            $p = if (-not $only -or $PesterPath) { Invoke-PesterTests } else { @{ Passed = 0; Failed = 0; HelpPassed = 0; HelpFailed = 0; FailedNames = @() } }
            $passed = $x.Passed + $p.Passed
            $failed = $x.Failed + $p.Failed
            $helpPassed = $p.HelpPassed; $helpFailed = $p.HelpFailed
            $failedNames = @($x.FailedNames) + @($p.FailedNames) | Where-Object { $_ }
        }
        catch {
            Write-Host "The test run stopped: $_"
            Write-Host $_.ScriptStackTrace
            $failed++
        }
        finally {
            Stop-TestServers $state
        }
        $script:Timings['whole run'] = $total.Elapsed.TotalSeconds
        Write-Host 'Time (seconds):'
        foreach ($t in $script:Timings.GetEnumerator()) { Write-Host ('  {0,-48} {1,7:N1}' -f $t.Key, $t.Value) }
        # What failed is named again here, so that the end of a long log says it.
        foreach ($name in $failedNames) { Write-Host "FAILED: $name" }
        # The last line counts everything; the one before it tells behaviour tests from help checks.
        Write-Host "Behaviour tests: $($passed - $helpPassed) passed, $($failed - $helpFailed) failed; help checks: $helpPassed passed, $helpFailed failed"
        Write-Host "$passed passed, $failed failed"
        exit ([int]($failed -gt 0))
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
