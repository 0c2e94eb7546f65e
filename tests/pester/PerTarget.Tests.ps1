# Errors are per target: of two databases piped to a cmdlet, the one that fails is one
# non-terminating error (its id, the database redacted as its target) and the other is still done.
BeforeAll {
    Import-Module "$PSScriptRoot/../../DragonflowUpgrade.psd1" -Force
    . "$PSScriptRoot/TestSupport.ps1"
    . "$PSScriptRoot/SafetySupport.ps1"

    $script:Bad = 'redis://ops:s3cret@127.0.0.1:1/0'
    $script:BadShown = 'redis://ops:***@127.0.0.1:1/0'

    # Pipes the unreachable database first, then $Good, to $Command; returns its output and errors.
    function Invoke-PerTarget([string] $Good, [scriptblock] $Command, [hashtable[]] $Extra = @(@{}, @{})) {
        $inputs = @(
            [pscustomobject](@{ Database = $script:Bad } + $Extra[0])
            [pscustomobject](@{ Database = $Good } + $Extra[1])
        )
        $ErrorActionPreference = 'Continue'   # Pester's Stop would make the first error end the pipeline
        $all = @($inputs | & $Command 2>&1)
        @{ Output = @($all | Where-Object { $_ -isnot [System.Management.Automation.ErrorRecord] })
           Errors = @($all | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] }) }
    }

    function Assert-OneErrorForBad($Result) {
        $Result.Errors.Count | Should -Be 1
        $Result.Errors[0].FullyQualifiedErrorId | Should -BeLike 'NbDatabaseUnavailable,*'
        $Result.Errors[0].TargetObject | Should -Be $script:BadShown
        ($Result.Errors[0] | Out-String) | Should -Not -Match 's3cret'
    }
}

Describe 'Two databases piped, the first unreachable' {
    BeforeEach {
        $good = New-TestRedis 90
        Add-RedisObjects 90 @(New-Port 'p1' 't1'; New-Port 'p2' 't1')
        Set-DfMigrationBaseline -Database $good -Release queens -Confirm:$false | Out-Null
    }
    AfterEach { Unlock-DfNbDatabase -Database $good -Force -Confirm:$false -ErrorAction SilentlyContinue }

    It 'Get-DfNbTable reports the unreachable one and lists the other''s tables' {
        $r = Invoke-PerTarget $good { $input | Get-DfNbTable }
        Assert-OneErrorForBad $r
        ($r.Output | Where-Object Table -eq 'lport').Count | Should -Be 2
    }

    It 'Get-DfNbObject reports the unreachable one and returns the other''s objects' {
        $r = Invoke-PerTarget $good { $input | Get-DfNbObject -Table lport }
        Assert-OneErrorForBad $r
        @($r.Output.id | Sort-Object) | Should -Be @('p1', 'p2')
    }

    It 'Get-DfMigration reports the unreachable one and lists the other''s migrations' {
        $r = Invoke-PerTarget $good { $input | Get-DfMigration }
        Assert-OneErrorForBad $r
        $r.Output.Count | Should -BeGreaterThan 0
        $r.Output | ForEach-Object { $_.Database | Should -Be $good }
    }

    It 'Get-DfMigrationLog reports the unreachable one and returns the other''s log' {
        $r = Invoke-PerTarget $good { $input | Get-DfMigrationLog }
        Assert-OneErrorForBad $r
        $r.Output.Id | Should -Contain 'baseline'
    }

    It 'Get-DfSchema -Database reports the unreachable one and returns the other''s schema' {
        $r = Invoke-PerTarget $good { $input | Get-DfSchema }
        Assert-OneErrorForBad $r
        ($r.Output | Where-Object Table -eq 'lport').Count | Should -BeGreaterThan 0
    }

    It 'Get-DfNbDatabaseLock reports the unreachable one and shows the other''s lock' {
        Lock-DfNbDatabase -Database $good -Purpose 'per target' | Out-Null
        $r = Invoke-PerTarget $good { $input | Get-DfNbDatabaseLock }
        Assert-OneErrorForBad $r
        $r.Output.Purpose | Should -Be 'per target'
    }

    It 'Lock- and Unlock-DfNbDatabase report the unreachable one and lock and unlock the other' {
        $r = Invoke-PerTarget $good { $input | Lock-DfNbDatabase -Purpose 'per target' -Confirm:$false }
        Assert-OneErrorForBad $r
        $r.Output.Database | Should -Be $good
        $r = Invoke-PerTarget $good { $input | Unlock-DfNbDatabase -PassThru -Confirm:$false }
        Assert-OneErrorForBad $r
        $r.Output.Purpose | Should -Be 'per target'
        Get-DfNbDatabaseLock -Database $good | Should -BeNullOrEmpty
    }

    It 'Backup-DfNbDatabase reports the unreachable one and backs the other up' {
        $r = Invoke-PerTarget $good { $input | Backup-DfNbDatabase -Path $TestDrive }
        Assert-OneErrorForBad $r
        $r.Output.Count | Should -Be 1
        Test-Path $r.Output[0].Path | Should -BeTrue
    }

    It 'Restore-DfNbDatabase reports the unreachable one and restores the other' {
        $backup = Backup-DfNbDatabase -Database $good -Path "$TestDrive/$([guid]::NewGuid()).jsonl.gz"
        Invoke-RedisCli 90 DEL '{lport.t1}.p1' | Out-Null
        $r = Invoke-PerTarget $good { $input | Restore-DfNbDatabase -Confirm:$false } @(@{ Path = $backup.Path }, @{ Path = $backup.Path })
        Assert-OneErrorForBad $r
        $r.Output.Count | Should -Be 1
        Invoke-RedisCli 90 EXISTS '{lport.t1}.p1' | Should -Be 1
    }

    It 'Set-DfMigrationBaseline reports the unreachable one and records the other''s release' {
        Invoke-RedisCli 90 FLUSHDB | Out-Null
        $r = Invoke-PerTarget $good { $input | Set-DfMigrationBaseline -Release pike -Confirm:$false }
        Assert-OneErrorForBad $r
        $r.Output.Count | Should -BeGreaterThan 0
        (Get-DfMigrationLog -Database $good).Id | Should -Contain 'baseline'
    }

    It 'Undo-DfMigration reports the unreachable one and undoes the other''s last run' {
        $folder = Join-Path $TestDrive ([guid]::NewGuid())
        New-MigrationFile $folder 'bump.ps1' 'bump' '2018-06-01T00:00:00Z' $BumpEveryObject | Out-Null
        Set-ShippedMigrationsApplied $good
        Invoke-DfMigration -Database $good -MigrationPath $folder -Confirm:$false | Out-Null
        $r = Invoke-PerTarget $good { $input | Undo-DfMigration -Confirm:$false }
        Assert-OneErrorForBad $r
        $r.Output.Count | Should -Be 1
        (Get-DfMigrationLog -Database $good).Id | Should -Not -Contain 'bump'
    }

    It 'Resume-DfMigration reports the unreachable one, and of the other that it has nothing to resume' {
        $r = Invoke-PerTarget $good { $input | Resume-DfMigration -Confirm:$false }
        $r.Errors.Count | Should -Be 2
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'NbDatabaseUnavailable,*'
        $r.Errors[0].TargetObject | Should -Be $script:BadShown
        $r.Errors[1].TargetObject | Should -Be $good
    }
}
