# Behaviours of the migration cmdlets that no other test covers: -Id and its selection errors,
# two databases in one pipeline, changed and unknown migrations, compiled migrations, what
# $NbApi offers scripts, Get-DfNbObject without -Id, New-DfMigration over an existing file,
# and relative paths.
BeforeAll {
    Import-Module "$PSScriptRoot/../../DragonflowUpgrade.psd1" -Force
    . "$PSScriptRoot/TestSupport.ps1"

    function New-PortsDatabase([int] $Index) {
        $db = New-TestRedis $Index
        Add-RedisObjects $Index @(
            New-Port 'p1' 't1'
            New-Port 'p2' 't1' 'network:dhcp'
            @{ table = 'lswitch'; topic = 't1'; id = 's1'; value = @{ id = 's1'; topic = 't1' } }
        )
        Set-ShippedMigrationsApplied $db
        $db
    }
    function Get-Pending([string] $Database, [string] $Folder) {
        (Get-DfMigration -Database $Database -MigrationPath $Folder -Pending | Where-Object Source -like "$Folder*").Id
    }
}

Describe 'Invoke-DfMigration -Id' {
    BeforeEach {
        $db = New-PortsDatabase 85
        $folder = Join-Path $TestDrive ([guid]::NewGuid())
        New-MigrationFile $folder '1.ps1' 'one' '2017-09-01T00:00:00Z' '' 'release-a' | Out-Null
        New-MigrationFile $folder '2.ps1' 'two' '2017-09-02T00:00:00Z' '' 'release-a' | Out-Null
        New-MigrationFile $folder '3.ps1' 'three' '2017-09-03T00:00:00Z' '' 'release-b' | Out-Null
    }

    It 'applies exactly the migrations named, and leaves the rest pending' {
        (Invoke-DfMigration -Database $db -MigrationPath $folder -Id one, two -Confirm:$false).Id | Should -Be 'one', 'two'
        Get-Pending $db $folder | Should -Be 'three'
    }

    It 'refuses <Case>, naming it, and writes nothing' -ForEach @(
        @{ Case = 'a migration already applied'; Ids = @('one'); Target = $null; Message = "*Migration 'one' is already applied*" }
        @{ Case = 'a migration no source has'; Ids = @('nosuch'); Target = $null; Message = "*Migration 'nosuch' is not known: check -MigrationPath*" }
        @{ Case = 'a migration of a release after -TargetRelease'; Ids = @('two', 'three'); Target = 'release-a'; Message = "*Migration 'three' belongs to a release after 'release-a'*" }
        @{ Case = 'a selection that skips a pending migration'; Ids = @('two'); Target = $null; Message = "*skips pending migration*'one'*" }
    ) {
        if ($Case -like '*already applied*') { Invoke-DfMigration -Database $db -MigrationPath $folder -Id one -Confirm:$false | Out-Null }
        $before = Get-RedisDump 85
        $err = $null
        $target = if ($Target) { @{ TargetRelease = $Target } } else { @{} }
        try { Invoke-DfMigration -Database $db -MigrationPath $folder -Id $Ids @target -Confirm:$false } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'MigrationSelectionInvalid,*'
        $err.Exception.Message | Should -BeLike $Message
        Get-RedisDump 85 | Should -Be $before
    }
}

Describe 'Invoke-DfMigration with two databases in one pipeline' {
    It 'refuses the run, naming both, and migrates neither' {
        $a = New-PortsDatabase 86
        $b = New-PortsDatabase 87
        $folder = Join-Path $TestDrive ([guid]::NewGuid())
        New-MigrationFile $folder '1.ps1' 'flag' '2017-09-01T00:00:00Z' $FlagComputePorts | Out-Null
        $beforeA = Get-RedisDump 86; $beforeB = Get-RedisDump 87
        $err = $null
        try { @($a, $b) | ForEach-Object { Get-DfMigration -Database $_ -MigrationPath $folder -Pending | Where-Object Id -eq 'flag' } | Invoke-DfMigration -Confirm:$false }
        catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'MigrationSelectionInvalid,*'
        $err.Exception.Message | Should -BeLike "*two databases, '$a' and '$b'*one database per run*"
        Get-RedisDump 86 | Should -Be $beforeA
        Get-RedisDump 87 | Should -Be $beforeB
    }
}

Describe 'Migrations the log and the sources disagree about' {
    BeforeEach {
        $db = New-PortsDatabase 88
        $folder = Join-Path $TestDrive ([guid]::NewGuid())
        $file = New-MigrationFile $folder '1.ps1' 'one' '2017-09-01T00:00:00Z' ''
        Invoke-DfMigration -Database $db -MigrationPath $folder -Confirm:$false | Out-Null
    }

    It 'Invoke-DfMigration warns of an applied script that changed, does not run it again, and runs the next' {
        Add-Content $file '# edited afterwards'
        New-MigrationFile $folder '2.ps1' 'two' '2017-09-02T00:00:00Z' '' | Out-Null
        $out = Invoke-DfMigration -Database $db -MigrationPath $folder -Confirm:$false -WarningVariable warnings 3>$null
        $out.Id | Should -Be 'two'
        $warnings.Message | Should -Contain "Migration 'one' changed after it was applied ($file); it does not run again."
    }

    It 'Get-DfMigration warns of an applied migration that no source has' {
        Get-DfMigration -Database $db -WarningVariable warnings 3>$null | Out-Null
        $warnings.Message | Should -Contain "The database has migration 'one' (queens) applied, which no known source has: check -MigrationPath."
        Get-DfMigration -Database $db -MigrationPath $folder -WarningVariable known 3>$null | Out-Null
        $known | Should -BeNullOrEmpty
    }
}

Describe 'A compiled migration in a -MigrationPath folder' {
    It 'is listed with its assembly and class, and applied' {
        $db = New-PortsDatabase 89
        $folder = Join-Path $TestDrive ([guid]::NewGuid())
        New-Item -ItemType Directory $folder | Out-Null
        $engine = [DragonflowUpgrade.Engine.Migrations.IMigration].Assembly.Location
        $name = "CompiledFlag$([guid]::NewGuid().ToString('N'))"
        Add-Type -IgnoreWarnings -OutputAssembly (Join-Path $folder "$name.dll") -OutputType Library -ReferencedAssemblies $engine, 'netstandard' -TypeDefinition @"
using DragonflowUpgrade.Engine.Migrations;
namespace $name
{
    [Migration("compiled-flag", "queens", "2017-09-01T00:00:00Z", Description = "Flag compute ports")]
    public sealed class Flag : IMigration
    {
        public void Apply(INbApi nb)
        {
            foreach (var port in nb.GetAll("lport"))
            {
                if (port["device_owner"] as string == "compute:nova") port["flag"] = true;
                nb.Update("lport", port);
            }
        }
    }
}
"@
        $m = Get-DfMigration -Database $db -MigrationPath $folder -Pending | Where-Object Id -eq 'compiled-flag'
        $m.Source | Should -BeLike "*$name.dll: $name.Flag"
        $m.Description | Should -Be 'Flag compute ports'
        (Invoke-DfMigration -Database $db -MigrationPath $folder -Confirm:$false).Id | Should -Be 'compiled-flag'
        (Get-DfNbObject -Database $db -Table lport -Id p1).flag | Should -BeTrue
        (Get-DfNbObject -Database $db -Table lport -Id p2).PSObject.Properties.Name | Should -Not -Contain 'flag'
    }
}

Describe '$NbApi in a script migration' {
    BeforeEach {
        $db = New-PortsDatabase 85
        $folder = Join-Path $TestDrive ([guid]::NewGuid())
    }

    It 'reads one object with Get ($null when absent), lists Tables, and shows Warn''s message' {
        New-MigrationFile $folder '1.ps1' 'look' '2017-09-01T00:00:00Z' @'
if ($null -ne $NbApi.Get('lport', 'nosuch')) { throw 'Get found an object that is not there' }
        $p = $NbApi.Get('lport', 'p2')
        $p['tables'] = ($NbApi.Tables | Sort-Object) -join ','
        $NbApi.Update('lport', $p)
        $NbApi.Warn("p2 is owned by $($p['device_owner'])")
'@ | Out-Null
        Invoke-DfMigration -Database $db -MigrationPath $folder -Confirm:$false -WarningVariable warnings 3>$null | Out-Null
        $warnings.Message | Should -Contain 'p2 is owned by network:dhcp'
        $tables = (Get-DfNbObject -Database $db -Table lport -Id p2).tables -split ','
        $tables | Should -Contain 'lport'
        $tables | Should -Contain 'lswitch'
    }

    It 'fails the run naming the migration when it <Case>, and writes nothing' -ForEach @(
        @{ Case = 'creates an object that exists'; Apply = "`$NbApi.Create('lport', @{ id = 'p1'; topic = 't1' })"; Message = "*'bad'*Cannot create lport/p1: it already exists*" }
        @{ Case = 'updates an object that does not exist'; Apply = "`$NbApi.Update('lport', @{ id = 'p9'; topic = 't1' })"; Message = "*'bad'*Cannot update lport/p9: it does not exist*" }
        @{ Case = 'deletes an object that does not exist'; Apply = "`$NbApi.Delete('lport', 'p9')"; Message = "*'bad'*Cannot delete lport/p9: it does not exist*" }
    ) {
        New-MigrationFile $folder '1.ps1' 'bad' '2017-09-01T00:00:00Z' $Apply | Out-Null
        $before = Get-RedisDump 85
        $err = $null
        try { Invoke-DfMigration -Database $db -MigrationPath $folder -Confirm:$false } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'MigrationFailed,*'
        $err.Exception.Message | Should -BeLike $Message
        Get-RedisDump 85 | Should -Be $before
    }
}

Describe 'Get-DfNbObject without -Id' {
    BeforeAll { $db = New-PortsDatabase 86 }

    It 'returns every object of -Table, and of every table without it' {
        $ports = Get-DfNbObject -Database $db -Table lport
        $ports.id | Sort-Object | Should -Be 'p1', 'p2'
        $ports.NbTable | Select-Object -Unique | Should -Be 'lport'
        $all = Get-DfNbObject -Database $db | Where-Object NbTable -in 'lport', 'lswitch'
        ($all | ForEach-Object { "$($_.NbTable)/$($_.id)" } | Sort-Object) | Should -Be 'lport/p1', 'lport/p2', 'lswitch/s1'
    }

    It 'refuses -Id without -Table (TableMissing)' {
        $err = $null
        try { Get-DfNbObject -Database $db -Id p1 } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'TableMissing,*'
        $err.Exception.Message | Should -BeLike '*-Id needs -Table*'
    }
}

Describe 'New-DfMigration over an existing migration' {
    It 'writes an error naming the id and folder, and leaves the file as it was' {
        $folder = Join-Path $TestDrive ([guid]::NewGuid())
        $first = New-DfMigration -Path $folder -Id 'same-id' -Release queens -Description 'First'
        $content = Get-Content -Raw $first.FullName
        $second = New-DfMigration -Path $folder -Id 'same-id' -Release queens -Description 'Second' -ErrorVariable errs -ErrorAction SilentlyContinue
        $second | Should -BeNullOrEmpty
        $errs[0].FullyQualifiedErrorId | Should -BeLike 'MigrationExists,*'
        $errs[0].Exception.Message | Should -BeLike "*'same-id' already exists in '*'*"
        @(Get-ChildItem $folder).Count | Should -Be 1
        Get-Content -Raw $first.FullName | Should -BeExactly $content
    }
}

Describe 'Relative paths' {
    It 'are taken from the PowerShell location, not the process''s working folder' {
        $here = Join-Path $TestDrive "here-$([guid]::NewGuid())"
        New-Item -ItemType Directory $here | Out-Null
        '{"table":"lport","topic":"t1","id":"p1","value":{"id":"p1","topic":"t1","device_owner":"compute:nova"}}' | Set-Content "$here/nb.jsonl"
        Push-Location $here
        try {
            [Environment]::CurrentDirectory | Should -Not -Be $here
            Set-ShippedMigrationsApplied 'nb.jsonl'
            New-DfMigration -Path skeletons -Id 'rel' -Release queens -Description 'Relative' | Out-Null
            @(Get-ChildItem "$here/skeletons").Count | Should -Be 1
            New-MigrationFile "$here/migrations" 'flag.ps1' 'flag' '2017-09-01T00:00:00Z' $FlagComputePorts | Out-Null
            $out = Invoke-DfMigration -Database nb.jsonl -MigrationPath migrations -BackupPath run.jsonl.gz -Confirm:$false
            ($out | Where-Object Id -eq 'flag').BackupPath | Should -Be (Join-Path $here 'run.jsonl.gz')
            "$here/run.jsonl.gz" | Should -Exist
            (Get-DfNbObject -Database nb.jsonl -Table lport -Id p1).flag | Should -BeTrue
            (Backup-DfNbDatabase -Database nb.jsonl -Path saved.jsonl.gz).Path | Should -Be (Join-Path $here 'saved.jsonl.gz')
            (Restore-DfNbDatabase -Database nb.jsonl -Path run.jsonl.gz -Confirm:$false).Updated | Should -Be 1
            (Get-DfNbObject -Database nb.jsonl -Table lport -Id p1).PSObject.Properties.Name | Should -Not -Contain 'flag'
        }
        finally { Pop-Location }
    }
}
